/**
 * The work behind `bulwark backup …` (cli/commands/backup.ts declares the commands):
 * create, list, verify and restore in this process (no worker needed: at 3 a.m. the
 * workers may be what is broken). Loaded only when a backup command runs.
 */
import {
  createBackup,
  listBackups,
  restoreBackup,
  verifyBackup,
  type BackupContext,
  type OnProgress,
} from '../../lib/backup/index.js';
import { createRedis } from '../../lib/clients/redis.js';
import { createStorage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { TENANT_ID } from '../../lib/contracts/common.js';
import { createLogger } from '../../lib/logger.js';
import { pino } from 'pino';
import { UsageError } from '../command.js';
import type { CliIO } from '../output.js';

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
      const bar = pct === undefined ? '' : ` [${'#'.repeat(Math.round((pct / 100) * 30)).padEnd(30, '.')}] ${pct}%`;
      write(`\r${label} ${e.phase}${bar} ${MB(e.done)}${e.total ? ` of ${MB(e.total)}` : ''}   `);
    },
    done: () => void (drawn && write('\n')),
  };
}

const idArg = (f: { _: string[] }, command: string): string => {
  if (f._.length !== 1) throw new UsageError(`${command} takes one backup id, e.g. 20261206T010000Z`, command);
  return f._[0]!;
};

export async function runBackupCreate(
  f: { tenant?: string | undefined; kind?: string | undefined },
  config: Config,
  io: CliIO,
): Promise<number> {
  const kind = f.kind ?? (f.tenant ? 'tenant' : 'database');
  if (kind !== 'database' && kind !== 'objects' && kind !== 'tenant')
    throw new UsageError('--kind must be database, objects or tenant', 'backup create');
  if ((kind === 'tenant') !== Boolean(f.tenant))
    throw new UsageError('--tenant ID goes with --kind tenant (and only with it)', 'backup create');
  const tenantId = f.tenant === undefined ? undefined : TENANT_ID.safeParse(f.tenant);
  if (tenantId && !tenantId.success) throw new UsageError('--tenant must be a UUID', 'backup create');
  const bar = progress(io, 'backup');
  const manifest = await withBackupContext(config, (ctx) =>
    createBackup(ctx, { kind, tenantId: tenantId?.data, onProgress: bar.on }),
  ).finally(bar.done);
  const bytes = manifest.parts.reduce((n, p) => n + p.size, 0);
  io.out(manifest.id);
  io.err(
    `backup ${manifest.id} (${kind}) complete: ${manifest.parts.length} part(s), ${MB(bytes)}, encrypted to ${manifest.encryption.recipient}${manifest.objects ? `; ${manifest.objects.count} object(s), ${MB(manifest.objects.bytes)} copied` : ''}`,
  );
  return 0;
}

export async function runBackupList(f: { all?: boolean | undefined }, config: Config, io: CliIO): Promise<number> {
  const all = await withBackupContext(config, listBackups);
  const shown = f.all ? all : all.filter((b) => b.status === 'restorable');
  if (shown.length === 0) io.err('no restorable backups');
  for (const b of shown) {
    const m = b.manifest;
    const size = m ? MB(m.parts.reduce((n, p) => n + p.size, 0) + (m.objects?.bytes ?? 0)) : '-';
    io.out(
      [b.id, m?.kind ?? '-', b.status, size, m?.tenantId ?? '', b.problem ?? m?.reason ?? ''].join('\t').trimEnd(),
    );
  }
  return 0;
}

export async function runBackupVerify(f: { _: string[] }, config: Config, io: CliIO): Promise<number> {
  const id = idArg(f, 'backup verify');
  const bar = progress(io, 'verify');
  const result = await withBackupContext(config, (ctx) => verifyBackup(ctx, id, { onProgress: bar.on })).finally(
    bar.done,
  );
  for (const line of result.checks) io.out(`ok  ${line}`);
  io.out(`backup ${id} verified: ${result.parts} part(s), ${MB(result.bytes)}`);
  return 0;
}

export async function runBackupRestore(
  f: {
    _: string[];
    into?: string | undefined;
    'objects-into'?: string | undefined;
    tenant?: string | undefined;
    force?: boolean | undefined;
    confirm?: string | undefined;
  },
  config: Config,
  io: CliIO,
): Promise<number> {
  const id = idArg(f, 'backup restore');
  if (f.tenant !== undefined && !TENANT_ID.safeParse(f.tenant).success)
    throw new UsageError('--tenant must be a UUID', 'backup restore');
  if (f.tenant !== undefined && f.into === undefined)
    throw new UsageError('--tenant ID restores into a scratch database: add --into DB', 'backup restore');
  const bar = progress(io, 'restore');
  const result = await withBackupContext(config, (ctx) =>
    restoreBackup(ctx, id, {
      into: f.into,
      objectsInto: f['objects-into'],
      tenant: f.tenant,
      force: f.force === true,
      confirm: f.confirm,
      onProgress: bar.on,
    }),
  ).finally(bar.done);
  if (result.rollbackBackupId)
    io.out(`rollback point: backup ${result.rollbackBackupId} (the database as it was before this restore)`);
  for (const line of result.checks) io.out(`ok  ${line}`);
  if (result.pendingMigrations.length)
    io.out(
      `note: ${result.pendingMigrations.length} newer migration(s) pending: run \`bulwark migrate\` against ${result.target}`,
    );
  io.out(`backup ${id} restored into ${result.target} in ${result.seconds.toFixed(1)} s`);
  return 0;
}
