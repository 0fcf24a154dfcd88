/**
 * The CLI's usage text, kept as data so `bulwark --help`, `bulwark <group> --help` and
 * `bulwark <group> <command> --help` print from one source and cannot drift apart.
 */
import { ROTATION_GRACE_DEFAULT_SECONDS, ROTATION_GRACE_MAX_SECONDS } from '../lib/apikeys/lifecycle.js';

interface CommandHelp {
  /** The command words, e.g. `apikey create`; main.ts dispatches on the same string. */
  name: string;
  /** Flags and arguments after the name; each further entry is a continuation line. */
  synopsis: string[];
  /** What it does, one entry per line. */
  about: string[];
}

const cmd = (name: string, synopsis: string | string[], ...about: string[]): CommandHelp => ({
  name,
  synopsis: typeof synopsis === 'string' ? [synopsis] : synopsis,
  about,
});
const TENANT = '--tenant ID';
const GRACE = ROTATION_GRACE_DEFAULT_SECONDS;

const SECTIONS: Array<{ title: string; commands: CommandHelp[] }> = [
  {
    title: 'Set-up and running',
    commands: [
      cmd('migrate', '', 'create the database if needed and apply pending migrations'),
      cmd('start', '', 'run workers, scheduler and the HTTP server until SIGTERM'),
    ],
  },
  {
    title: 'Tenants',
    commands: [
      cmd('tenant create', '--name NAME [--timezone TZ]', 'create a tenant (settings, first admin key, audit entry);', 'prints its id, then the admin key (shown once), one per line'),
      cmd('tenant list', '', 'every tenant, by name: id, name, time zone, creation time'),
      cmd('tenant settings get', TENANT, "print the tenant's settings"),
      cmd('tenant settings set', `${TENANT} KEY=VALUE...`, 'change settings, e.g. api.requestsPerWindow=100'),
    ],
  },
  {
    title: 'API keys',
    commands: [
      cmd('apikey create', [`${TENANT} --name N --scopes S [--expires-days D]`], 'create a key and print it (shown once);', 'N: unique among the keys not revoked', 'S: audit:write,audit:read,alert:write,admin', 'D: 1-730 days (default 90)'),
      cmd('apikey list', TENANT, 'prefix, name, scopes, state, expiry, last use'),
      cmd('apikey revoke', `${TENANT} --key PREFIX|ID`, 'revoke a key at once'),
      cmd('apikey rotate', `${TENANT} --key PREFIX|ID [--grace-seconds ${GRACE}]`, 'print a new key; the old one stays valid for the grace', `(0-${ROTATION_GRACE_MAX_SECONDS} seconds, default ${GRACE})`),
    ],
  },
  {
    title: 'Secrets (values are read from stdin, never from arguments)',
    commands: [
      cmd('secret set', `${TENANT} --name NAME`, 'create or replace a secret'),
      cmd('secret rotate', `${TENANT} --name NAME`, "replace an existing secret's value"),
      cmd('secret list', TENANT, 'names, versions and times (never values)'),
      cmd('secret history', `${TENANT} --name NAME`, 'when the secret was created and rotated'),
      cmd('keys generate', '[--id ID]', 'print a new master key entry for MASTER_KEYS;', 'ID: 1-32 letters, digits, _ or -'),
      cmd('keys rotate-master', '[--batch-size 200]', 're-encrypt every secret under the first MASTER_KEYS key;', 'batch 1-10000; exit 0 only for "N of N", "0 failed"'),
    ],
  },
  {
    title: 'Alert channels (credentials are secret:// references)',
    commands: [
      cmd(
        'channel add',
        [`${TENANT} --name N --type webhook|slack|telegram`, '--target URL|LABEL|CHAT_ID --secret secret://NAME', '[--severities info,warning,high,critical]'],
        'add a channel (a chat id starting with - is given as --target=-100123)',
      ),
      cmd('channel list', TENANT, "the tenant's channels"),
      cmd('channel remove', `${TENANT} --name N`, 'remove a channel'),
      cmd('alerts log', `${TENANT} [--since ISO] [--outcome O] [--limit N] [--cursor C]`, 'the ledger: every alert and its decision'),
    ],
  },
  {
    title: 'Retention and legal holds',
    commands: [
      cmd('retention run', '[--dry-run] [--tenant ID] [--json]', 'apply every TTL now (receipts, audit entries);', '--dry-run: what would go and what holds keep'),
      cmd('retention receipts', '[--tenant ID] [--limit 100] [--json]', 'receipts of past runs, newest first (limit 1-10000)'),
      cmd('hold add', [`${TENANT} --all|--actor ID|--resource TYPE:ID|--prefix P`, '--reason TEXT [--until DATE]'], 'keep what the hold covers from retention; prints its id'),
      cmd('hold list', '[--tenant ID] [--released]', 'active holds (--released: with released ones)'),
      cmd('hold release', 'ID --reason TEXT', 'release a hold; its row stays as history'),
    ],
  },
  {
    title: 'Audit',
    commands: [
      cmd('audit verify', '[--tenant ID]', 'verify hash chains; exit 1 naming the first bad entry'),
      cmd('help', '[COMMAND...]', "show this text, or one group's or command's usage"),
    ],
  },
];

const ALL = SECTIONS.flatMap((s) => s.commands);

/** Every command the usage text describes (`help` included). */
export const DOCUMENTED_COMMANDS: readonly string[] = ALL.map((c) => c.name);
const COLUMN = 47;

const EXIT_CODES = `Exit codes: 0 success; 1 the work found a problem (a broken chain, something not found,
such as an unknown --tenant, a name already taken); 2 bad usage, input or configuration.`;

/** One command as table rows: synopsis on the left, description from COLUMN on. */
function rows(c: CommandHelp): string[] {
  const left = [`${c.name} ${c.synopsis[0]}`.trim(), ...c.synopsis.slice(1).map((l) => `${' '.repeat(c.name.length + 1)}${l}`)];
  const out: string[] = [];
  let about = [...c.about];
  // The description starts on the synopsis' last line when it fits there, else below it.
  for (const [i, l] of left.entries()) {
    const last = i === left.length - 1;
    out.push(last && l.length < COLUMN - 1 && about.length > 0 ? `${l.padEnd(COLUMN)}${about.shift()}` : l);
  }
  about = about.map((a) => `${' '.repeat(COLUMN)}${a}`);
  return [...out, ...about].map((l) => `  ${l}`);
}

export const USAGE = [
  'Usage: bulwark <command> [options]',
  ...SECTIONS.map((s) => `${s.title}:\n${s.commands.flatMap(rows).join('\n')}`),
  `${EXIT_CODES}\nEvery command takes --help. Configuration comes from the environment (and a .env file,\nif present); see README.md.`,
].join('\n\n');

/** The usage of one command (`apikey create`), or undefined when there is none. */
export function commandUsage(name: string): string | undefined {
  const c = ALL.find((x) => x.name === name);
  if (!c) return undefined;
  const synopsis = [`Usage: bulwark ${c.name} ${c.synopsis[0]}`.trimEnd(), ...c.synopsis.slice(1).map((l) => `${' '.repeat(16 + c.name.length)}${l}`)];
  return `${synopsis.join('\n')}\n\n${c.about.map((a) => `  ${a}`).join('\n')}\n\n${EXIT_CODES}`;
}

/** The commands under a group (`apikey`, `tenant settings`), or undefined when it is none. */
export function groupUsage(group: string): string | undefined {
  const members = ALL.filter((c) => c.name.startsWith(`${group} `));
  if (members.length === 0) return undefined;
  return `Usage: bulwark ${group} <command> [options]\n\nCommands:\n${members.flatMap(rows).join('\n')}\n\nRun "bulwark ${group} <command> --help" for one command's usage.\n\n${EXIT_CODES}`;
}

/** The command names under a group, for an error that names them. */
export function groupCommands(group: string): string[] {
  return ALL.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
}
