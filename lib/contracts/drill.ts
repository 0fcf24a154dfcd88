/**
 * Backup upkeep contract: the nightly backup-then-prune flow, backup pruning and restore
 * drills, on the queue `backup-upkeep`, one job at a time per process. Drills and prunes
 * exclude each other across processes too (a Postgres advisory lock,
 * lib/backup/upkeep-lock.ts): a prune never deletes the backup a drill is restoring.
 * See docs/jobs/restore-drill.md.
 */
import { z } from 'zod';
import type { QueuePolicy } from './common.js';
import { defineJob } from './job.js';

export const BACKUP_UPKEEP_QUEUE = 'backup-upkeep';
export const BACKUP_NIGHTLY_JOB = 'nightly';
export const RESTORE_DRILL_JOB = 'drill';
export const BACKUP_PRUNE_JOB = 'prune';

/** What started a drill: its schedule, or an operator's command. */
export const UPKEEP_TRIGGERS = ['schedule', 'cli'] as const;

/** The nightly job: adds tonight's backup-then-prune flow (workers/backup/nightly.ts). */
export const backupNightlyJobSchema = z.object({ v: z.literal(1) }).strict();
export type BackupNightlyJob = z.output<typeof backupNightlyJobSchema>;

/** The restore-drill job payload: it always drills the newest backup. */
export const restoreDrillJobSchema = z
  .object({ v: z.literal(1), trigger: z.enum(UPKEEP_TRIGGERS).default('schedule') })
  .strict();
export type RestoreDrillJob = z.output<typeof restoreDrillJobSchema>;

/** The backup-prune job payload. `dryRun` lists what would go and deletes nothing. */
export const backupPruneJobSchema = z.object({ v: z.literal(1), dryRun: z.boolean().default(false) }).strict();
export type BackupPruneJob = z.output<typeof backupPruneJobSchema>;

/**
 * A drill restores a whole database and runs for minutes: no retries (a failed drill is
 * evidence to record and alert on, not to hide by trying again), one at a time. A prune
 * that failed is the next night's to catch up.
 */
export const backupUpkeepPolicy: QueuePolicy = {
  attempts: 1,
  backoff: { type: 'fixed', delay: 60_000 },
  concurrency: 1,
  limiter: { max: 10, duration: 1000 },
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
};

export const backupUpkeepQueue = { name: BACKUP_UPKEEP_QUEUE, policy: backupUpkeepPolicy };

/** On BACKUP_CRON (UTC): a database backup, then the prune once it completed. */
export const backupNightlyJob = defineJob({
  queue: backupUpkeepQueue,
  name: BACKUP_NIGHTLY_JOB,
  schema: backupNightlyJobSchema,
  schedule: { id: 'backup-nightly', repeat: (config) => ({ pattern: config.backupCron, tz: 'UTC' }), data: { v: 1 } },
});

/** Retention (BACKUP_KEEP_*): the child of each nightly flow, and `bulwark backup prune`. */
export const backupPruneJob = defineJob({
  queue: backupUpkeepQueue,
  name: BACKUP_PRUNE_JOB,
  schema: backupPruneJobSchema,
});

/** On RESTORE_DRILL_CRON (UTC): restore the newest backup into a scratch database and record the evidence. */
export const restoreDrillJob = defineJob({
  queue: backupUpkeepQueue,
  name: RESTORE_DRILL_JOB,
  schema: restoreDrillJobSchema,
  schedule: {
    id: 'restore-drill-weekly',
    repeat: (config) => ({ pattern: config.restoreDrillCron, tz: 'UTC' }),
    data: { v: 1, trigger: 'schedule' },
  },
});
