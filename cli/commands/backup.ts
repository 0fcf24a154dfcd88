/**
 * `bulwark backup …`: create, list, verify and restore backups from the command line,
 * in this process (no worker needed: at 3 a.m. the workers may be what is broken).
 * Long work draws a progress bar on stderr when it is a terminal. Exit 1 when a
 * backup is refused (bad part, bad manifest, failed checks), 2 on bad usage.
 */
import { createBackup, listBackups, restoreBackup, verifyBackup, type BackupContext, type OnProgress } from '../../lib/backup/index.js';
import { createRedis } from '../../lib/clients/redis.js';
import { createStorage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { TENANT_ID } from '../../lib/contracts/common.js';
import { createLogger } from '../../lib/logger.js';
import { pino } from 'pino';
import { parseFlags, UsageError, type Flags } from '../flags.js';
import type { CliIO } from '../output.js';

type Handler = (args: string[], ctx: { config: () => Config; io: CliIO }) => Promise<number>;

/** A backup context for one command; its Redis connection is closed afterwards. */
async function withBackupContext<T>(config: Config, fn: (ctx: BackupContext) => Promise<T>): Promise<T> {
  const redis = createRedis(config, 'bulwark-cli-backup', { autoPipelining: false });
  redis.on('error', () => undefined);
  // Log lines go to stderr, warnings and worse only: stdout carries the command's answer.
  const logger = createLogger({ ...config, logLevel: 'warn' }, pino.destination(2));
  try {
    return await fn({ config, storage: createStorage(config.storage), redis, logger });
  } finally {
    redis.disconnect();
  }
}

const MB = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** A progress line on stderr (a terminal only): bytes so far, and a bar when the total is known. */
function progress(io: CliIO, label: string): { on: OnProgress; done: () => void } {
  const write = io.progress ?? ((t: string) => void process.stderr.write(t));
  let last = 0;
  let drawn = false;
  return {
    on: (e) => {
      if (!io.isTTY || Date.now() - last < 200) return;
      last = Date.now();
      drawn = true;
      const pct = e.total ? Math.min(100, Math.floor((e.done / e.total) * 100)) : undefined;
      const bar = pct === undefined ? '' : ` [${'#'.repeat(Math.round(pct / 100 * 30)).padEnd(30, '.')}] ${pct}%`;
      write(`\r${label} ${e.phase}${bar} ${MB(e.done)}${e.total ? ` of ${MB(e.total)}` : ''}   `);
    },
    done: () => void (drawn && write('\n')),
  };
}

const idArg = (f: Flags, command: string): string => {
  if (f._.length !== 1) throw new UsageError(`${command} takes one backup id, e.g. 20261206T010000Z`, command);
  return f._[0]!;
};

export const BACKUP_COMMANDS: Record<string, Handler> = {
  'backup create': async (a, c) => {
    const f = parseFlags(a, { tenant: { type: 'string' }, kind: { type: 'string' } });
    const kind = (f.kind as string | undefined) ?? (f.tenant ? 'tenant' : 'database');
    if (kind !== 'database' && kind !== 'objects' && kind !== 'tenant') throw new UsageError('--kind must be database, objects or tenant', 'backup create');
    if ((kind === 'tenant') !== Boolean(f.tenant)) throw new UsageError('--tenant ID goes with --kind tenant (and only with it)', 'backup create');
    const tenantId = f.tenant === undefined ? undefined : TENANT_ID.safeParse(f.tenant);
    if (tenantId && !tenantId.success) throw new UsageError('--tenant must be a UUID', 'backup create');
    const bar = progress(c.io, 'backup');
    const manifest = await withBackupContext(c.config(), (ctx) => createBackup(ctx, { kind, tenantId: tenantId?.data, onProgress: bar.on })).finally(bar.done);
    const bytes = manifest.parts.reduce((n, p) => n + p.size, 0);
    c.io.out(manifest.id);
    c.io.err(`backup ${manifest.id} (${kind}) complete: ${manifest.parts.length} part(s), ${MB(bytes)}, encrypted to ${manifest.encryption.recipient}`);
    return 0;
  },
  'backup list': async (a, c) => {
    const f = parseFlags(a, { all: { type: 'boolean' } });
    const all = await withBackupContext(c.config(), listBackups);
    const shown = f.all ? all : all.filter((b) => b.status === 'restorable');
    if (shown.length === 0) c.io.err('no restorable backups');
    for (const b of shown) {
      const m = b.manifest;
      const size = m ? MB(m.parts.reduce((n, p) => n + p.size, 0)) : '-';
      c.io.out([b.id, m?.kind ?? '-', b.status, size, m?.tenantId ?? '', b.problem ?? m?.reason ?? ''].join('\t').trimEnd());
    }
    return 0;
  },
  'backup verify': async (a, c) => {
    const id = idArg(parseFlags(a, {}, true), 'backup verify');
    const bar = progress(c.io, 'verify');
    const result = await withBackupContext(c.config(), (ctx) => verifyBackup(ctx, id, { onProgress: bar.on })).finally(bar.done);
    for (const line of result.checks) c.io.out(`ok  ${line}`);
    c.io.out(`backup ${id} verified: ${result.parts} part(s), ${MB(result.bytes)}`);
    return 0;
  },
  'backup restore': async (a, c) => {
    const f = parseFlags(a, { into: { type: 'string', required: true }, force: { type: 'boolean' }, confirm: { type: 'string' } }, true);
    const id = idArg(f, 'backup restore');
    const bar = progress(c.io, 'restore');
    const result = await withBackupContext(c.config(), (ctx) =>
      restoreBackup(ctx, id, { into: f.into as string, force: f.force === true, confirm: f.confirm as string | undefined, onProgress: bar.on }),
    ).finally(bar.done);
    if (result.rollbackBackupId) c.io.out(`rollback point: backup ${result.rollbackBackupId} (the database as it was before this restore)`);
    for (const line of result.checks) c.io.out(`ok  ${line}`);
    if (result.pendingMigrations.length) c.io.out(`note: ${result.pendingMigrations.length} newer migration(s) pending: run \`bulwark migrate\` against ${result.target}`);
    c.io.out(`backup ${id} restored into ${result.target} in ${result.seconds.toFixed(1)} s`);
    return 0;
  },
};

export const BACKUP_USAGE = {
  title: 'Backups (docs/DATA_MANAGEMENT.md)',
  commands: [
    ['backup create', '[--kind database|objects|tenant] [--tenant ID]', 'take a backup now (database by default); prints its id'],
    ['backup list', '[--all]', 'restorable backups: id, kind, status, size (--all: incomplete too)'],
    ['backup verify', 'ID', 'download, check and decrypt every part, pg_restore --list;', 'touches no database'],
    ['backup restore', 'ID --into DB|URL [--force] [--confirm DB]', 'restore into an empty database and check it;', '--force replaces a non-empty one after a rollback backup;', '--confirm DB is required when BULWARK_ENV=live'],
  ] as Array<[string, string, ...string[]]>,
};
