/**
 * alert-delivery contract: the jobs the alert worker schedules for itself after a
 * decision. `deliver` sends one message (one alert, a group or a digest) to one
 * channel; `group-flush` closes a group when its wait ends; `digest` sends what quiet
 * hours deferred; `sweep` finds grouped or deferred rows whose flush or digest is past
 * and never came. Job ids are derived from their content, so re-adding is a no-op.
 */
import { z } from 'zod';
import { TENANT_ID, type QueuePolicy } from './common.js';
import { defineJob, type JobOptions } from './job.js';

export const ALERT_DELIVERY_QUEUE = 'alert-delivery';
/** Most alerts one `deliver` job sends (a larger group or digest goes out in several). */
export const DELIVER_MAX_ALERTS = 1000;

/**
 * Largest JSON body a webhook channel is sent (WEBHOOK_MAX_BODY_BYTES), in bytes: a
 * receiver refuses a larger one with 413 (many cap at 256 KiB-1 MiB), which fails the
 * send for good. The smallest allowed still holds a fitted message's every field but
 * `items` and a cut `text` at the contract's limits: 1,000 ids (39 KB), a 200-character
 * title, a 2,048-character runbook link.
 */
export const WEBHOOK_BODY_MAX_BYTES = { default: 256 * 1024, min: 64 * 1024, max: 64 * 1024 * 1024 } as const;

export const deliverJobSchema = z
  .object({
    v: z.literal(1),
    tenantId: TENANT_ID,
    channelId: z.uuid(),
    kind: z.enum(['single', 'group', 'digest']),
    alertIds: z.array(z.uuid()).min(1).max(DELIVER_MAX_ALERTS),
    /**
     * Attempts already spent before this job existed: the alert job's inline send that
     * failed retryably counts as attempt 1, so the ledger and the attempt limit agree.
     */
    priorAttempts: z.number().int().min(0).max(7).optional(),
  })
  .strict();

export const groupFlushJobSchema = z.object({ v: z.literal(1), tenantId: TENANT_ID, groupId: z.uuid() }).strict();
export const digestJobSchema = z.object({ v: z.literal(1), tenantId: TENANT_ID, until: z.iso.datetime({ offset: true }) }).strict();
/** The sweep (every minute, from the scheduler) takes no input. */
export const sweepJobSchema = z.object({ v: z.literal(1) }).strict();

export type DeliverJob = z.output<typeof deliverJobSchema>;
export type GroupFlushJob = z.output<typeof groupFlushJobSchema>;
export type DigestJob = z.output<typeof digestJobSchema>;

export const alertDeliveryPolicy: QueuePolicy & { backoffJitter: number; perChannelConcurrency: number; inlineSlotWaitMs: number } = {
  attempts: 8,
  // Exponential from 2 s with jitter, so many tenants' retries do not arrive together.
  backoff: { type: 'exponential', delay: 2000 },
  backoffJitter: 0.5,
  concurrency: 20,
  limiter: { max: 1000, duration: 1000 },
  /** Sends in flight to one channel from one worker process. */
  perChannelConcurrency: 4,
  /**
   * How long the alert job's inline send waits for a busy channel's slot before it hands
   * the send to a queued job: long enough for a healthy receiver's turnover, short
   * enough that a slow one does not keep alert decisions waiting.
   */
  inlineSlotWaitMs: 250,
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10000 },
};

export const alertDeliveryQueue = { name: ALERT_DELIVERY_QUEUE, policy: alertDeliveryPolicy };

/** Options of every alert-delivery job but the sweep: the policy's, backoff with jitter. */
const deliveryOpts: JobOptions = {
  attempts: alertDeliveryPolicy.attempts,
  backoff: { ...alertDeliveryPolicy.backoff, jitter: alertDeliveryPolicy.backoffJitter },
  removeOnComplete: alertDeliveryPolicy.removeOnComplete,
  removeOnFail: alertDeliveryPolicy.removeOnFail,
};

export const deliverJob = defineJob({ queue: alertDeliveryQueue, name: 'deliver', schema: deliverJobSchema, opts: deliveryOpts });
export const groupFlushJob = defineJob({ queue: alertDeliveryQueue, name: 'group-flush', schema: groupFlushJobSchema, opts: deliveryOpts });
export const digestJob = defineJob({ queue: alertDeliveryQueue, name: 'digest', schema: digestJobSchema, opts: deliveryOpts });
/** The sweep runs every minute; one that fails is simply the next minute's: no retries, few kept. */
export const sweepJob = defineJob({
  queue: alertDeliveryQueue,
  name: 'sweep',
  schema: sweepJobSchema,
  opts: { attempts: 1, removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } },
  schedule: { id: 'alert-sweep', repeat: () => ({ every: 60_000 }), data: { v: 1 } },
});

/** The jobs of the alert-delivery queue (bulwark_alert_delivery_jobs_lost_total's kinds come from their names). */
export const alertDeliveryJobs = [deliverJob, groupFlushJob, digestJob, sweepJob] as const;
