/**
 * Repeatable jobs. BullMQ job schedulers are upserted by id, so every process may
 * call this at start-up without creating duplicates.
 */
import { Queue } from 'bullmq';
import { AUDIT_VERIFY_QUEUE, auditVerifyPolicy, type AuditVerifyJob } from '../../lib/contracts/audit.js';
import type { AppContext } from '../../lib/context.js';

export const AUDIT_VERIFY_SCHEDULER_ID = 'audit-verify-hourly';

export interface Scheduler {
  queues: Queue[];
  close(): Promise<void>;
}

export async function startScheduler(ctx: AppContext): Promise<Scheduler> {
  const verifyQueue = new Queue<AuditVerifyJob>(AUDIT_VERIFY_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  verifyQueue.on('error', (err) => ctx.logger.warn({ event: 'queue_error', queue: AUDIT_VERIFY_QUEUE, err }, 'queue connection error'));
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
  ctx.logger.info({ event: 'scheduler_started', scheduler: AUDIT_VERIFY_SCHEDULER_ID, cron: ctx.config.auditVerifyCron, tz: 'UTC' }, 'repeatable jobs scheduled');
  return {
    queues: [verifyQueue],
    close: () => verifyQueue.close(),
  };
}
