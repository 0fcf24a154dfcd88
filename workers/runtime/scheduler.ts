/**
 * Repeatable jobs. BullMQ job schedulers are upserted by id, so every process may
 * call this at start-up without creating duplicates.
 */
import { Queue } from 'bullmq';
import { AUDIT_VERIFY_QUEUE, auditVerifyPolicy, type AuditVerifyJob } from '../../lib/contracts/audit.js';
import { ALERT_DELIVERY_QUEUE } from '../../lib/contracts/alert-delivery.js';
import type { AppContext } from '../../lib/context.js';
import { BACKUP_UPKEEP_QUEUE, RESTORE_DRILL_JOB, backupUpkeepPolicy, type RestoreDrillJob } from '../../lib/contracts/drill.js';
import { NIGHTLY_BACKUP_JOB } from '../backup/nightly.js';

export const AUDIT_VERIFY_SCHEDULER_ID = 'audit-verify-hourly';
export const ALERT_SWEEP_SCHEDULER_ID = 'alert-sweep';
/** BACKUP_CRON: the nightly database backup, then the prune. */
export const BACKUP_NIGHTLY_SCHEDULER_ID = 'backup-nightly';
/** RESTORE_DRILL_CRON: the restore drill. */
export const RESTORE_DRILL_SCHEDULER_ID = 'restore-drill-weekly';
/** The alert sweep (workers/alert/sweep.ts) runs every minute. */
export const ALERT_SWEEP_EVERY_MS = 60_000;

export interface Scheduler {
  queues: Queue[];
  close(): Promise<void>;
}

export async function startScheduler(ctx: AppContext): Promise<Scheduler> {
  const open = <T>(name: string) => {
    const q = new Queue<T>(name, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
    q.on('error', (err) => ctx.logger.warn({ event: 'queue_error', queue: name, err }, 'queue connection error'));
    return q;
  };
  const verifyQueue = open<AuditVerifyJob>(AUDIT_VERIFY_QUEUE);
  await verifyQueue.upsertJobScheduler(
    AUDIT_VERIFY_SCHEDULER_ID,
    { pattern: ctx.config.auditVerifyCron, tz: 'UTC' },
    {
      name: 'verify',
      data: { v: 1 },
      opts: {
        attempts: auditVerifyPolicy.attempts,
        backoff: auditVerifyPolicy.backoff,
        removeOnComplete: auditVerifyPolicy.removeOnComplete,
        removeOnFail: auditVerifyPolicy.removeOnFail,
      },
    },
  );
  // Backups: the nightly backup-then-prune flow (workers/backup/nightly.ts) and the
  // weekly restore drill, both on backup-upkeep, both one job per tick, no retries.
  const upkeepQueue = open(BACKUP_UPKEEP_QUEUE);
  const upkeepOpts = { attempts: backupUpkeepPolicy.attempts, removeOnComplete: backupUpkeepPolicy.removeOnComplete, removeOnFail: backupUpkeepPolicy.removeOnFail };
  await upkeepQueue.upsertJobScheduler(BACKUP_NIGHTLY_SCHEDULER_ID, { pattern: ctx.config.backupCron, tz: 'UTC' }, { name: NIGHTLY_BACKUP_JOB, data: { v: 1 }, opts: upkeepOpts });
  await upkeepQueue.upsertJobScheduler(
    RESTORE_DRILL_SCHEDULER_ID,
    { pattern: ctx.config.restoreDrillCron, tz: 'UTC' },
    { name: RESTORE_DRILL_JOB, data: { v: 1, trigger: 'schedule' } satisfies RestoreDrillJob, opts: upkeepOpts },
  );
  const deliveryQueue = open(ALERT_DELIVERY_QUEUE);
  // A sweep that fails is simply the next minute's: no retries, few kept.
  await deliveryQueue.upsertJobScheduler(ALERT_SWEEP_SCHEDULER_ID, { every: ALERT_SWEEP_EVERY_MS }, { name: 'sweep', data: { v: 1 }, opts: { attempts: 1, removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } } });
  ctx.logger.info({ event: 'scheduler_started', scheduler: AUDIT_VERIFY_SCHEDULER_ID, cron: ctx.config.auditVerifyCron, tz: 'UTC' }, 'repeatable jobs scheduled');
  ctx.logger.info({ event: 'scheduler_started', scheduler: ALERT_SWEEP_SCHEDULER_ID, every_ms: ALERT_SWEEP_EVERY_MS }, 'repeatable jobs scheduled');
  ctx.logger.info({ event: 'scheduler_started', scheduler: BACKUP_NIGHTLY_SCHEDULER_ID, cron: ctx.config.backupCron, tz: 'UTC' }, 'repeatable jobs scheduled');
  ctx.logger.info({ event: 'scheduler_started', scheduler: RESTORE_DRILL_SCHEDULER_ID, cron: ctx.config.restoreDrillCron, tz: 'UTC' }, 'repeatable jobs scheduled');
  return {
    queues: [verifyQueue, deliveryQueue, upkeepQueue],
    close: async () => void (await Promise.all([verifyQueue.close(), deliveryQueue.close(), upkeepQueue.close()])),
  };
}
