/**
 * The `backup-upkeep` queue's worker: `drill` jobs (RESTORE_DRILL_CRON) and `prune` jobs
 * (after each nightly backup). One job at a time per process; drills and prunes exclude
 * each other across processes through the upkeep lock.
 */
import { Queue, UnrecoverableError, type Job, type Worker } from 'bullmq';
import { BACKUP_PRUNE_JOB, BACKUP_UPKEEP_QUEUE, RESTORE_DRILL_JOB, backupPruneJobSchema, backupUpkeepPolicy, restoreDrillJobSchema } from '../../lib/contracts/drill.js';
import { ALERT_QUEUE } from '../../lib/contracts/alert.js';
import type { AppContext } from '../../lib/context.js';
import type { DrillRecord } from '../../lib/backup/drill-record.js';
import type { PruneReport } from '../../lib/backup/prune.js';
import { drillBackupsOf } from '../../lib/backup/upkeep-adapters.js';
import { createQueueWorker } from '../runtime/queue-worker.js';
import { performRestoreDrill } from './drill.js';
import { addNightlyFlow, NIGHTLY_BACKUP_JOB } from './nightly.js';
import { prune } from './prune.js';

/** What a job returns (Bull Board shows it): the drill's outcome, or the prune's counts. */
export type UpkeepResult =
  | { drillId: string; backupId: string | undefined; passed: boolean; durationMs: number | undefined; error: string | undefined }
  | { dryRun: boolean; deleted: string[]; kept: number; unverified: string[]; errors: string[] };

export async function processUpkeep(job: Pick<Job, 'name' | 'data' | 'timestamp' | 'opts'>, ctx: AppContext, alertQueue: Queue): Promise<UpkeepResult> {
  if (job.name === RESTORE_DRILL_JOB) {
    const parsed = restoreDrillJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid drill payload: ${parsed.error.issues[0]?.message}`);
    const r: DrillRecord = await performRestoreDrill({ ...ctx, backups: drillBackupsOf(ctx), alertQueue }, parsed.data.trigger);
    return { drillId: r.id, backupId: r.backupId, passed: r.passed, durationMs: r.durationMs, error: r.error };
  }
  if (job.name === NIGHTLY_BACKUP_JOB) {
    // The scheduled time, not now: a retry of this job adds the same flow (same ids).
    const tick = new Date(job.opts?.prevMillis ?? job.timestamp ?? Date.now());
    const ids = await addNightlyFlow(ctx.redis, ctx.config.queuePrefix, tick);
    ctx.logger.info({ event: 'backup_nightly_enqueued', backup_job_id: ids.backupJobId, prune_job_id: ids.pruneJobId }, 'nightly backup enqueued; prune follows it');
    return { dryRun: false, deleted: [], kept: 0, unverified: [], errors: [] };
  }
  if (job.name === BACKUP_PRUNE_JOB) {
    const parsed = backupPruneJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid prune payload: ${parsed.error.issues[0]?.message}`);
    const r: PruneReport = await prune({ ...ctx, backup: ctx }, parsed.data.dryRun);
    return { dryRun: r.dryRun, deleted: r.deleted, kept: r.histories.reduce((n, h) => n + h.keep.length, 0), unverified: r.histories.filter((h) => h.noVerifiedBackup).map((h) => h.history), errors: r.errors };
  }
  throw new UnrecoverableError(`unknown job ${job.name} on ${BACKUP_UPKEEP_QUEUE}`);
}

export function createBackupUpkeepWorker(ctx: AppContext): { worker: Worker; close(): Promise<void> } {
  const alertQueue = new Queue(ALERT_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  alertQueue.on('error', (err) => ctx.logger.warn({ event: 'queue_error', queue: ALERT_QUEUE, err }, 'queue connection error'));
  const worker = createQueueWorker<unknown, UpkeepResult>(ctx, {
    queue: BACKUP_UPKEEP_QUEUE,
    policy: backupUpkeepPolicy,
    processor: (job) => processUpkeep(job, ctx, alertQueue),
  });
  return { worker: worker as Worker, close: () => alertQueue.close() };
}
