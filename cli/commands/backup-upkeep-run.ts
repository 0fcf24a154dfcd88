/**
 * The work behind `bulwark backup drill`, `bulwark backup drills` and `bulwark backup
 * prune [--dry-run]` (cli/commands/backup.ts declares them): the restore drill run now
 * (with the same evidence as the weekly one), the evidence listed, and backup retention
 * applied by hand. Loaded only when one of these commands runs.
 */
import { Queue } from 'bullmq';
import pino from 'pino';
import type pg from 'pg';
import type { BackupContext } from '../../lib/backup/context.js';
import { listDrills, type DrillRecord } from '../../lib/backup/drill-record.js';
import { drillBackupsOf } from '../../lib/backup/upkeep-adapters.js';
import { createPgPool, createPrisma, type PrismaClient } from '../../lib/clients/prisma.js';
import { createRedis } from '../../lib/clients/redis.js';
import { createStorage } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { ALERT_QUEUE } from '../../lib/contracts/alert.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { performRestoreDrill } from '../../workers/backup/drill.js';
import { prune } from '../../workers/backup/prune.js';
import type { CliIO } from '../output.js';
import { withPrisma } from './with-prisma.js';

/** `1h 5m`, `3.2 s`: durations as an operator reads them. */
export function humanSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [d && `${d}d`, (d || h) && `${h}h`, `${m}m`].filter(Boolean).join(' ');
}

/** One drill as lines: the summary, then each check (only failed ones unless `checks`). */
export function drillLines(d: DrillRecord, checks = false): string[] {
  const lines = [
    [
      d.startedAt.toISOString(),
      d.passed ? 'PASSED' : 'FAILED',
      d.backupId ?? '(no backup)',
      d.durationMs === undefined ? 'restore -' : `restore ${humanSeconds(d.durationMs / 1000)}`,
      d.backupAgeSeconds === undefined ? 'backup age -' : `backup age ${humanSeconds(d.backupAgeSeconds)}`,
      d.trigger,
      d.id,
    ].join('\t'),
  ];
  for (const c of d.checks) {
    if (checks || !c.ok)
      lines.push(
        `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ms === undefined ? '' : ` (${c.ms} ms)`}${c.detail ? `: ${c.detail}` : ''}`,
      );
  }
  return lines;
}

export async function runBackupDrills(config: Config, io: CliIO, options: { limit?: number }): Promise<number> {
  const drills = await withPrisma(config, (p) => listDrills(p, options.limit ?? 20));
  for (const d of drills) for (const line of drillLines(d)) io.out(line);
  io.out(
    `${drills.length} drill(s)${drills[0] ? `; newest ${drills[0].passed ? 'passed' : 'FAILED'}` : '; none yet: run `bulwark backup drill`'}`,
  );
  return 0;
}

/**
 * The clients a drill or prune needs, for one command: Postgres (evidence, upkeep lock),
 * the object store, Redis (the failure alert, the backup library's lock) and a logger on
 * stderr at warn (the command prints its own result on stdout). All closed afterwards.
 */
async function withUpkeep<T>(config: Config, fn: (deps: UpkeepDeps) => Promise<T>): Promise<T> {
  const logger = createLogger(
    { env: config.env, logLevel: config.logLevel === 'silent' ? 'silent' : 'warn' },
    pino.destination({ dest: 2, sync: true }),
  );
  const pool = createPgPool(config, 2);
  pool.options.allowExitOnIdle = true;
  const prisma = createPrisma(config, { pool });
  const redis = createRedis(config, 'bulwark-cli');
  redis.on('error', () => undefined); // a Redis that is down fails the command's first call instead
  const alertQueue = new Queue(ALERT_QUEUE, { connection: redis, prefix: config.queuePrefix });
  alertQueue.on('error', () => undefined);
  const backup = { config, storage: createStorage(config.storage), redis, logger };
  try {
    return await fn({ config, prisma, pg: pool, clock: () => new Date(), logger, backup, alertQueue });
  } finally {
    await alertQueue.close().catch(() => undefined);
    await prisma.$disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
    redis.disconnect();
  }
}

interface UpkeepDeps {
  config: Config;
  prisma: PrismaClient;
  pg: pg.Pool;
  clock: () => Date;
  logger: Logger;
  backup: BackupContext;
  alertQueue: Queue;
}

/** Exit 0 when the drill passed, 1 when it failed (its evidence is recorded either way). */
export async function runBackupDrill(config: Config, io: CliIO): Promise<number> {
  const record = await withUpkeep(config, (d) =>
    performRestoreDrill({ ...d, backups: drillBackupsOf(d.backup) }, 'cli'),
  );
  for (const line of drillLines(record, true)) io.out(line);
  io.out(
    record.passed
      ? `restore drill passed: ${record.backupId} restored and checked`
      : `restore drill FAILED: ${record.error}`,
  );
  return record.passed ? 0 : 1;
}

/** The plan per history, then what was deleted; exit 1 when a deletion failed. */
export async function runBackupPrune(config: Config, io: CliIO, options: { dryRun: boolean }): Promise<number> {
  const report = await withUpkeep(config, (d) => prune(d, options.dryRun));
  for (const h of report.histories) {
    io.out(
      `${h.history}: keep ${h.keep.length}, ${options.dryRun ? 'would prune' : 'prune'} ${h.prune.length}${h.noVerifiedBackup ? ' (nothing pruned: no backup of it is verified)' : ''}`,
    );
    for (const k of h.keep) io.out(`  keep\t${k.id}\t${k.reasons.join(', ')}`);
    for (const id of h.prune) io.out(`  ${options.dryRun ? 'would prune' : 'prune'}\t${id}`);
    for (const v of h.verifiedNow) io.out(`  verified\t${v}`);
    for (const f of h.failedVerify) io.out(`  verify FAILED\t${f}`);
  }
  for (const id of report.incomplete)
    io.out(`incomplete\t${id}\tno manifest, older than 48 h: ${options.dryRun ? 'would be removed' : 'removed'}`);
  for (const id of report.invalid) io.out(`invalid\t${id}\tmanifest does not verify: kept for inspection`);
  for (const e of report.errors) io.err(`could not delete ${e}`);
  const count = options.dryRun
    ? report.histories.reduce((n, h) => n + h.prune.length, 0) + report.incomplete.length
    : report.deleted.length;
  io.out(
    options.dryRun
      ? `dry run: ${count} backup(s) would be deleted, nothing was`
      : `deleted ${count} backup(s)${report.errors.length ? `, ${report.errors.length} failed` : ''}`,
  );
  return report.errors.length ? 1 : 0;
}
