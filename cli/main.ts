/**
 * `bulwark` CLI. Every command validates its flags (unknown or missing ones are a clear
 * error and exit 2), loads the configuration once, and exits 0 on success, 1 when the
 * work found a problem (a broken chain, a secret that did not decrypt, a duplicate), 2
 * on bad usage, input or configuration.
 */
import { loadConfig, type Config } from '../lib/config.js';
import { ConfigError, ConflictError, MigrationError, NotFoundError, ValidationError } from '../lib/errors.js';
import { maskUrlCredentials } from '../lib/redact.js';
import { runAlertsLog, runChannelAdd, runChannelList, runChannelRemove } from './commands/channels.js';
import { runAuditVerify, runMigrate, runStart, runTenantCreate } from './commands/core.js';
import { readSecretFromStdin, runKeysGenerate, runRotateMaster, runSecretHistory, runSecretList, runSecretSet } from './commands/secrets.js';
import { runApiKeyCreate, runApiKeyList, runApiKeyRevoke, runApiKeyRotate, runSettingsGet, runSettingsSet } from './commands/tenants.js';
import { parseFlags, UsageError, type FlagSpec, type Flags } from './flags.js';
import { processIO, type CliIO } from './output.js';

export const USAGE = `Usage: bulwark <command> [options]

Set-up and running:
  migrate                                        create the database if needed and apply pending migrations
  start                                          run workers, scheduler and the HTTP server until SIGTERM
Tenants:
  tenant create --name NAME [--timezone TZ]      create a tenant (settings, first admin key, audit entry);
                                                 prints its id and the admin key (shown once)
  tenant settings get --tenant ID                print the tenant's settings
  tenant settings set --tenant ID KEY=VALUE...   change settings, e.g. api.requestsPerWindow=100
API keys:
  apikey create --tenant ID --name N --scopes S [--expires-days D]   S: audit:write,audit:read,alert:write,admin
  apikey list --tenant ID
  apikey revoke --tenant ID --key PREFIX|ID
  apikey rotate --tenant ID --key PREFIX|ID [--grace-seconds 300]
Secrets (values are read from stdin, never from arguments):
  secret set --tenant ID --name NAME             create or replace a secret
  secret rotate --tenant ID --name NAME          replace an existing secret's value
  secret list --tenant ID                        names, versions and times (never values)
  secret history --tenant ID --name NAME         when the secret was created and rotated
  keys generate [--id ID]                        print a new master key entry for MASTER_KEYS
  keys rotate-master [--batch-size 200]          re-encrypt every secret under the first MASTER_KEYS key
Alert channels (credentials are secret:// references):
  channel add --tenant ID --name N --type webhook|slack|telegram --target URL|LABEL|CHAT_ID
              --secret secret://NAME [--severities info,warning,high,critical]
              (a chat id starting with - is given as --target=-100123)
  channel list --tenant ID
  channel remove --tenant ID --name N
  alerts log --tenant ID [--since ISO] [--outcome O] [--limit N]   the ledger: every alert and its decision
Audit:
  audit verify [--tenant ID]                     verify hash chains; exit 1 naming the first bad entry
  help                                           show this text

Configuration comes from the environment (and a .env file, if present); see README.md.`;

type Handler = (args: string[], ctx: { config: () => Config; io: CliIO; stdin: NodeJS.ReadableStream & { isTTY?: boolean } }) => Promise<number> | number;

const TENANT: FlagSpec = { tenant: { type: 'string', required: true } };
const str = (v: Flags[string]) => v as string;

const commands: Record<string, Handler> = {
  migrate: (a, c) => (parseFlags(a, {}), runMigrate(c.config(), c.io)),
  start: (a, c) => (parseFlags(a, {}), runStart(c.config(), c.io)),
  'tenant create': (a, c) => {
    const f = parseFlags(a, { name: { type: 'string', required: true }, timezone: { type: 'string' } });
    return runTenantCreate(c.config(), c.io, { name: str(f.name), timezone: f.timezone as string | undefined });
  },
  'tenant settings get': (a, c) => runSettingsGet(c.config(), c.io, str(parseFlags(a, TENANT).tenant)),
  'tenant settings set': (a, c) => {
    const f = parseFlags(a, TENANT, true);
    return runSettingsSet(c.config(), c.io, str(f.tenant), f._);
  },
  'apikey create': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true }, scopes: { type: 'string', required: true }, 'expires-days': { type: 'int' } });
    return runApiKeyCreate(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), scopes: str(f.scopes), expiresInDays: f['expires-days'] as number | undefined });
  },
  'apikey list': (a, c) => runApiKeyList(c.config(), c.io, str(parseFlags(a, TENANT).tenant)),
  'apikey revoke': (a, c) => {
    const f = parseFlags(a, { ...TENANT, key: { type: 'string', required: true } });
    return runApiKeyRevoke(c.config(), c.io, str(f.tenant), str(f.key));
  },
  'apikey rotate': (a, c) => {
    const f = parseFlags(a, { ...TENANT, key: { type: 'string', required: true }, 'grace-seconds': { type: 'int' } });
    return runApiKeyRotate(c.config(), c.io, str(f.tenant), str(f.key), (f['grace-seconds'] as number | undefined) ?? 300);
  },
  'secret set': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runSecretSet(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), readValue: () => readSecretFromStdin(c.stdin, c.io), mustExist: false });
  },
  'secret rotate': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runSecretSet(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), readValue: () => readSecretFromStdin(c.stdin, c.io), mustExist: true });
  },
  'secret list': (a, c) => runSecretList(c.config(), c.io, str(parseFlags(a, TENANT).tenant)),
  'secret history': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runSecretHistory(c.config(), c.io, str(f.tenant), str(f.name));
  },
  'keys generate': (a, c) => runKeysGenerate(c.io, (parseFlags(a, { id: { type: 'string' } }).id as string | undefined) ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`),
  'keys rotate-master': (a, c) => runRotateMaster(c.config(), c.io, (parseFlags(a, { 'batch-size': { type: 'int' } })['batch-size'] as number | undefined) ?? 200),
  'channel add': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true }, type: { type: 'string', required: true }, target: { type: 'string', required: true }, secret: { type: 'string', required: true }, severities: { type: 'string' } });
    return runChannelAdd(c.config(), c.io, { tenantId: str(f.tenant), name: str(f.name), type: str(f.type), target: str(f.target), secretRef: str(f.secret), severities: f.severities as string | undefined });
  },
  'channel list': (a, c) => runChannelList(c.config(), c.io, str(parseFlags(a, TENANT).tenant)),
  'channel remove': (a, c) => {
    const f = parseFlags(a, { ...TENANT, name: { type: 'string', required: true } });
    return runChannelRemove(c.config(), c.io, str(f.tenant), str(f.name));
  },
  'alerts log': (a, c) => {
    const f = parseFlags(a, { ...TENANT, since: { type: 'string' }, outcome: { type: 'string' }, limit: { type: 'int' } });
    return runAlertsLog(c.config(), c.io, { tenantId: str(f.tenant), since: f.since as string | undefined, outcome: f.outcome as string | undefined, limit: f.limit as number | undefined });
  },
  'audit verify': (a, c) => runAuditVerify(c.config(), c.io, { tenantId: parseFlags(a, { tenant: { type: 'string' } }).tenant as string | undefined }),
};

function resolve(argv: string[]): [Handler, string[]] | undefined {
  for (const words of [3, 2, 1]) {
    const handler = commands[argv.slice(0, words).join(' ')];
    if (handler) return [handler, argv.slice(words)];
  }
  return undefined;
}

export async function main(
  argv: string[],
  io: CliIO = processIO,
  env: NodeJS.ProcessEnv = process.env,
  stdin: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
): Promise<number> {
  try {
    if (argv.length === 0 || ['help', '--help', '-h'].includes(argv[0]!)) {
      io.out(USAGE);
      return 0;
    }
    const found = resolve(argv);
    if (!found) throw new UsageError(`unknown command "${argv.filter((a) => !a.startsWith('-')).slice(0, 3).join(' ')}"`);
    return await found[0](found[1], { config: () => loadConfig(env), io, stdin });
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`bulwark: ${err.message}\n\nRun "bulwark help" for usage.`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof ValidationError) {
      io.err(`bulwark: ${err.message}`);
      return 2;
    }
    if (err instanceof ConflictError || err instanceof MigrationError || err instanceof NotFoundError) {
      io.err(`bulwark: ${err.message}`);
      return 1;
    }
    io.err(`bulwark: ${maskUrlCredentials(err instanceof Error ? err.message : String(err))}`);
    return 1;
  }
}
