/**
 * Repeatable jobs. BullMQ job schedulers are upserted by id, so every process may
 * call this at start-up without creating duplicates.
 */
import { Queue } from 'bullmq';
import { AUDIT_VERIFY_QUEUE, auditVerifyPolicy, type AuditVerifyJob } from '../../lib/contracts/audit.js';
import { ALERT_DELIVERY_QUEUE } from '../../lib/contracts/alert-delivery.js';
import type { AppContext } from '../../lib/context.js';

export const AUDIT_VERIFY_SCHEDULER_ID = 'audit-verify-hourly';
export const ALERT_SWEEP_SCHEDULER_ID = 'alert-sweep';
/** The alert sweep (workers/alert/jobs/sweep.ts) runs every minute. */
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
  const deliveryQueue = open(ALERT_DELIVERY_QUEUE);
  // A sweep that fails is simply the next minute's: no retries, few kept.
  await deliveryQueue.upsertJobScheduler(ALERT_SWEEP_SCHEDULER_ID, { every: ALERT_SWEEP_EVERY_MS }, { name: 'sweep', data: { v: 1 }, opts: { attempts: 1, removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } } });
  ctx.logger.info({ event: 'scheduler_started', scheduler: AUDIT_VERIFY_SCHEDULER_ID, cron: ctx.config.auditVerifyCron, tz: 'UTC' }, 'repeatable jobs scheduled');
  ctx.logger.info({ event: 'scheduler_started', scheduler: ALERT_SWEEP_SCHEDULER_ID, every_ms: ALERT_SWEEP_EVERY_MS }, 'repeatable jobs scheduled');
  return {
    queues: [verifyQueue, deliveryQueue],
    close: async () => void (await Promise.all([verifyQueue.close(), deliveryQueue.close()])),
  };
}
