/**
 * `bulwark` CLI. Every command validates its flags (unknown or missing ones are a clear
 * error and exit 2), loads the configuration once, and exits 0 on success, 1 when the
 * work found a problem (a broken chain, a secret that did not decrypt, a duplicate,
 * something not found, such as an unknown --tenant), 2 on bad usage, input or
 * configuration. `--help` anywhere prints the usage of the command or group named.
 */
import { LEDGER_PAGE_MAX } from '../lib/alerts/ledger-query.js';
import { API_KEY_MAX_DAYS } from '../lib/apikeys/keys.js';
import { ROTATION_GRACE_DEFAULT_SECONDS, ROTATION_GRACE_MAX_SECONDS } from '../lib/apikeys/lifecycle.js';
import { loadConfig, type Config } from '../lib/config.js';
import { ConfigError, ConflictError, MigrationError, NotFoundError, PendingMigrationsError, ValidationError } from '../lib/errors.js';
import { ROTATION_BATCH_MAX } from '../lib/secrets/rotation.js';
import { maskUrlCredentials } from '../lib/redact.js';
import { runAlertsLog, runChannelAdd, runChannelList, runChannelRemove } from './commands/channels.js';
import { runAuditVerify, runMigrate, runStart, runTenantCreate, runTenantList } from './commands/core.js';
import { readSecretFromStdin, runKeysGenerate, runRotateMaster, runSecretHistory, runSecretList, runSecretSet } from './commands/secrets.js';
import { runHoldAdd, runHoldList, runHoldRelease } from './commands/holds.js';
import { runRetentionReceipts, runRetentionRun } from './commands/retention.js';
import { runApiKeyCreate, runApiKeyList, runApiKeyRevoke, runApiKeyRotate, runSettingsGet, runSettingsSet } from './commands/tenants.js';
import { parseFlags, UsageError, type FlagSpec, type Flags } from './flags.js';
import { processIO, type CliIO } from './output.js';
import { commandUsage, groupCommands, groupUsage, USAGE } from './usage.js';

type Handler = (args: string[], ctx: { config: () => Config; io: CliIO; stdin: NodeJS.ReadableStream & { isTTY?: boolean } }) => Promise<number> | number;

const TENANT: FlagSpec = { tenant: { type: 'string', required: true } };
const str = (v: Flags[string]) => v as string;

/** A command taking only --tenant. Flags are read before the configuration, so a wrong flag is reported as such even when the configuration is bad too. */
const tenantOnly = (run: (config: Config, io: CliIO, tenantId: string) => Promise<number>): Handler => (a, c) => {
  const tenantId = str(parseFlags(a, TENANT).tenant);
  return run(c.config(), c.io, tenantId);
};

const commands: Record<string, Handler> = {
  migrate: (a, c) => (parseFlags(a, {}), runMigrate(c.config(), c.io)),
  start: (a, c) => (parseFlags(a, {}), runStart(c.config(), c.io)),
  'tenant create': (a, c) => {
    const f = parseFlags(a, { name: { type: 'string', required: true }, timezone: { type: 'string' } });
    return runTenantCreate(c.config(), c.io, { name: str(f.name), timezone: f.timezone as string | undefined });
  },
  'tenant list': (a, c) => (parseFlags(a, {}), runTenantList(c.config(), c.io)),
  'tenant settings get': tenantOnly(runSettingsGet),
  'tenant settings set': (a, c) => {
    const f = parseFlags(a, TENANT, true);
    return runSettingsSet(c.config(), c.io, str(f.tenant), f._);
  },
  'apikey create': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true }, scopes: { type: 'string', required: true }, 'expires-days': { type: 'int', min: 1, max: API_KEY_MAX_DAYS } });
    return runApiKeyCreate(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), scopes: str(f.scopes), expiresInDays: f['expires-days'] as number | undefined });
  },
  'apikey list': tenantOnly(runApiKeyList),
  'apikey revoke': (a, c) => {
    const f = parseFlags(a, { ...TENANT, key: { type: 'string', required: true } });
    return runApiKeyRevoke(c.config(), c.io, str(f.tenant), str(f.key));
  },
  'apikey rotate': (a, c) => {
    const f = parseFlags(a, { ...TENANT, key: { type: 'string', required: true }, 'grace-seconds': { type: 'int', min: 0, max: ROTATION_GRACE_MAX_SECONDS } });
    return runApiKeyRotate(c.config(), c.io, str(f.tenant), str(f.key), (f['grace-seconds'] as number | undefined) ?? ROTATION_GRACE_DEFAULT_SECONDS);
  },
  'secret set': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runSecretSet(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), readValue: () => readSecretFromStdin(c.stdin, c.io), mustExist: false });
  },
  'secret rotate': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runSecretSet(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), readValue: () => readSecretFromStdin(c.stdin, c.io), mustExist: true });
  },
  'secret list': tenantOnly(runSecretList),
  'secret history': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runSecretHistory(c.config(), c.io, str(f.tenant), str(f.name));
  },
  'keys generate': (a, c) => runKeysGenerate(c.io, (parseFlags(a, { id: { type: 'string' } }).id as string | undefined) ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`),
  'keys rotate-master': (a, c) => {
    const batchSize = (parseFlags(a, { 'batch-size': { type: 'int', min: 1, max: ROTATION_BATCH_MAX } })['batch-size'] as number | undefined) ?? 200;
    return runRotateMaster(c.config(), c.io, batchSize);
  },
  'channel add': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true }, type: { type: 'string', required: true }, target: { type: 'string', required: true }, secret: { type: 'string', required: true }, severities: { type: 'string' } });
    return runChannelAdd(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), type: str(f.type), target: str(f.target), secretRef: str(f.secret), severities: f.severities as string | undefined });
  },
  'channel list': tenantOnly(runChannelList),
  'channel remove': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runChannelRemove(c.config(), c.io, str(f.tenant), str(f.name));
  },
  'alerts log': (a, c) => {
    const f = parseFlags(a, { ...TENANT, since: { type: 'string' }, outcome: { type: 'string' }, limit: { type: 'int', min: 1, max: LEDGER_PAGE_MAX }, cursor: { type: 'string' } });
    return runAlertsLog(c.config(), c.io, { tenantId: str(f.tenant), since: f.since as string | undefined, outcome: f.outcome as string | undefined, limit: f.limit as number | undefined, cursor: f.cursor as string | undefined });
  },
  'retention run': (a, c) => {
    const f = parseFlags(a, { tenant: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } });
    return runRetentionRun(c.config(), c.io, { tenantId: f.tenant as string | undefined, dryRun: f['dry-run'] === true, json: f.json === true });
  },
  'retention receipts': (a, c) => {
    const f = parseFlags(a, { tenant: { type: 'string' }, limit: { type: 'int', min: 1, max: 10000 }, json: { type: 'boolean' } });
    return runRetentionReceipts(c.config(), c.io, { tenantId: f.tenant as string | undefined, limit: f.limit as number | undefined, json: f.json === true });
  },
  'hold add': (a, c) => {
    const f = parseFlags(a, { ...TENANT, all: { type: 'boolean' }, actor: { type: 'string' }, resource: { type: 'string' }, prefix: { type: 'string' }, reason: { type: 'string', required: true }, until: { type: 'string' } });
    return runHoldAdd(c.config(), c.io, { tenantId: str(f.tenant), all: f.all === true, actor: f.actor as string | undefined, resource: f.resource as string | undefined, prefix: f.prefix as string | undefined, reason: str(f.reason), until: f.until as string | undefined });
  },
  'hold list': (a, c) => {
    const f = parseFlags(a, { tenant: { type: 'string' }, released: { type: 'boolean' } });
    return runHoldList(c.config(), c.io, { tenantId: f.tenant as string | undefined, released: f.released === true });
  },
  'hold release': (a, c) => {
    const f = parseFlags(a, { reason: { type: 'string', required: true } }, true);
    if (f._.length !== 1) throw new UsageError('hold release takes one hold id', 'hold release');
    return runHoldRelease(c.config(), c.io, { id: f._[0]!, reason: str(f.reason) });
  },
  'audit verify': (a, c) => {
    const tenantId = parseFlags(a, { tenant: { type: 'string' } }).tenant as string | undefined;
    return runAuditVerify(c.config(), c.io, { tenantId });
  },
};

/** Every command name, so a test can hold the usage text to the commands that exist. */
export const COMMAND_NAMES: readonly string[] = Object.keys(commands);

const HELP = ['--help', '-h'];

/** The command words at the front of argv: [handler name, its arguments] for the longest match. */
function resolve(argv: string[]): [string, string[]] | undefined {
  for (const words of [3, 2, 1]) {
    const name = argv.slice(0, words).join(' ');
    if (commands[name]) return [name, argv.slice(words)];
  }
  return undefined;
}

/**
 * `help X Y` or `X Y --help`: the usage of the longest command X Y starts with (later
 * words may be arguments), else of group X Y exactly, else of everything when empty.
 */
function helpFor(words: string[]): string {
  for (let n = words.length; n > 0; n--) {
    const text = commandUsage(words.slice(0, n).join(' '));
    if (text) return text;
  }
  if (words.length === 0) return USAGE;
  return groupUsage(words.join(' ')) ?? unknownCommand(words);
}

/** No command by these words: name the commands of the nearest group, if any. */
function unknownCommand(words: string[]): never {
  let group = '';
  for (let n = words.length; n > 0 && !group; n--) if (groupCommands(words.slice(0, n).join(' ')).length) group = words.slice(0, n).join(' ');
  const sub = groupCommands(group).join(', ');
  // `bulwark apikey` or `bulwark apikey frob`: the group's commands, so the fix is in sight.
  if (group && group === words.join(' ')) throw new UsageError(`"${group}" needs a command: ${sub}`, group);
  throw new UsageError(`unknown command "${words.join(' ')}"${group ? ` ("${group}" has: ${sub})` : ''}`, group);
}

export async function main(
  argv: string[],
  io: CliIO = processIO,
  env: NodeJS.ProcessEnv = process.env,
  stdin: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
): Promise<number> {
  // What a usage error points at for help: the command run, or the group it is in.
  let topic = '';
  try {
    const firstFlag = argv.findIndex((a) => a.startsWith('-'));
    const words = (firstFlag === -1 ? argv : argv.slice(0, firstFlag)).slice(0, 3);
    if (argv.length === 0 || argv[0] === 'help' || argv.some((a) => HELP.includes(a))) {
      io.out(helpFor(argv[0] === 'help' ? argv.slice(1).filter((a) => !a.startsWith('-')) : words));
      return 0;
    }
    const found = resolve(argv);
    if (!found) unknownCommand(words);
    topic = found[0];
    return await commands[found[0]]!(found[1], { config: () => loadConfig(env), io, stdin });
  } catch (err) {
    if (err instanceof UsageError) {
      const about = err.topic ?? topic;
      io.err(`bulwark: ${err.message}\n\nRun "bulwark ${about ? `${about} ` : ''}--help" for usage.`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof ValidationError) {
      io.err(`bulwark: ${err.message}`);
      return 2;
    }
    if (err instanceof ConflictError || err instanceof MigrationError || err instanceof PendingMigrationsError || err instanceof NotFoundError) {
      io.err(`bulwark: ${err.message}`);
      return 1;
    }
    io.err(`bulwark: ${maskUrlCredentials(err instanceof Error ? err.message : String(err))}`);
    return 1;
  }
}
