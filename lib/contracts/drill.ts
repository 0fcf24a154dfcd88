/**
 * Backup upkeep contract: restore drills and backup pruning. Both run on the queue
 * `backup-upkeep`, one job at a time per process, and they exclude each other across
 * processes (a Postgres advisory lock, lib/backup/upkeep-lock.ts): a prune never
 * deletes the backup a drill is restoring. See docs/jobs/restore-drill.md.
 */
import { z } from 'zod';
import type { QueuePolicy } from './common.js';

export const BACKUP_UPKEEP_QUEUE = 'backup-upkeep';
export const RESTORE_DRILL_JOB = 'drill';
export const BACKUP_PRUNE_JOB = 'prune';

/** What started a drill or a prune: its schedule, or an operator's command. */
export const UPKEEP_TRIGGERS = ['schedule', 'cli'] as const;

/** The restore-drill job payload: it always drills the newest backup. */
export const restoreDrillJobSchema = z.object({ v: z.literal(1), trigger: z.enum(UPKEEP_TRIGGERS).default('schedule') }).strict();
export type RestoreDrillJob = z.output<typeof restoreDrillJobSchema>;

/** The backup-prune job payload. `dryRun` lists what would go and deletes nothing. */
export const backupPruneJobSchema = z.object({ v: z.literal(1), dryRun: z.boolean().default(false) }).strict();
export type BackupPruneJob = z.output<typeof backupPruneJobSchema>;

/**
 * A drill restores a whole database and runs for minutes: no retries (a failed drill is
 * evidence to record and alert on, not to hide by trying again), one at a time.
 */
export const backupUpkeepPolicy: QueuePolicy = {
  attempts: 1,
  backoff: { type: 'fixed', delay: 60_000 },
  concurrency: 1,
  limiter: { max: 10, duration: 1000 },
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
};
