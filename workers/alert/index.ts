/** Wires the alert decision worker and the delivery worker into BullMQ. */
import { Queue, type Worker } from 'bullmq';
import { createAlertDecider } from '../../lib/alerts/decide.js';
import { CHANNEL_TYPES } from '../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../lib/config.js';
import type { AppContext } from '../../lib/context.js';
import { ALERT_QUEUE, alertPolicy } from '../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE, alertDeliveryPolicy } from '../../lib/contracts/alert-delivery.js';
import { createQueueWorker } from '../../app/runtime/queue-worker.js';
import { processDelivery, wasRecorded, type DeliveryContext } from './jobs/delivery.js';
import { createPolicyReader } from './stores/policy.js';
import { createChannelPauses } from './sending/pause.js';
import { createChannelReader } from './stores/channels.js';
import { createLedgerStore } from './stores/ledger-store.js';
import { processAlert } from './jobs/processor.js';

export interface AlertWorkerOptions {
  /** Passed to the channel senders; tests point Telegram at a local server. */
  send?: DeliveryContext['send'];
}

/** What both alert processors work with; `deliveries` is the queue they hand sends to. */
export function createAlertContext(ctx: AppContext, deliveries: Queue, options: AlertWorkerOptions = {}): DeliveryContext {
  const logger = ctx.logger.child({ queue: ALERT_QUEUE });
  return {
    prisma: ctx.prisma,
    pg: ctx.pg,
    ledger: createLedgerStore(ctx.pg),
    channelsFor: createChannelReader(ctx.pg),
    logger,
    metrics: ctx.metrics,
    decider: createAlertDecider(ctx.redis, {
      keyPrefix: ctx.config.queuePrefix,
      clock: ctx.clock,
      onForgetError: (err) => logger.warn({ event: 'alert_forget_failed', err }, 'could not drop remembered alert decisions: they expire on their own'),
    }),
    deliveries,
    // Read for every alert (batched across jobs): a policy change applies to the next alert.
    policyInputsOf: createPolicyReader(ctx.pg),
    clock: ctx.clock,
    keys: requireMasterKeys(ctx.config),
    pauses: createChannelPauses(ctx.redis, { keyPrefix: ctx.config.queuePrefix, clock: ctx.clock }),
    // The target check comes from the config even when a test sets the other options.
    send: { timeoutMs: ctx.config.alertHttpTimeoutMs, telegramBaseUrl: ctx.config.telegramApiUrl, webhookMaxBodyBytes: ctx.config.webhookMaxBodyBytes, ...options.send, allowPrivateTargets: ctx.config.alertTargetsAllowPrivate },
  };
}

/**
 * The `kind` label of bulwark_alert_delivery_jobs_lost_total: the delivery queue's job
 * names, and `other` for a job with any other name (anyone who can write to Redis can
 * add one) or none (BullMQ reports some failures without the job). A closed set, so a
 * stray job name cannot add series.
 */
export const LOST_JOB_KINDS = ['deliver', 'group-flush', 'digest', 'sweep', 'other'] as const;
export function lostJobKind(name: string | undefined): (typeof LOST_JOB_KINDS)[number] {
  return LOST_JOB_KINDS.find((k) => k === name && k !== 'other') ?? 'other';
}

/**
 * The alert workers, the queue they hand sends to, and `drain()`: the forgets of
 * remembered decisions are sent after their jobs finish, so shutdown waits for them
 * before closing the Redis connection (or they fail and wait out their TTL).
 */
export function createAlertWorkers(ctx: AppContext, options: AlertWorkerOptions = {}): { workers: Worker[]; deliveries: Queue; drain: () => Promise<void> } {
  const deliveries = new Queue(ALERT_DELIVERY_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  deliveries.on('error', (err) => ctx.logger.warn({ event: 'queue_error', queue: ALERT_DELIVERY_QUEUE, err }, 'queue connection error'));
  const deliveryCtx = createAlertContext(ctx, deliveries, options);
  // The failure series AlertDeliveriesFailing watches exist from the start at 0, so a
  // process's first failure is an increase too (a series first seen at 1 has none).
  for (const reason of ['credential', 'misconfigured', 'rejected', 'retries_exhausted']) {
    for (const channel of CHANNEL_TYPES) ctx.metrics.alertsTotal.inc({ outcome: 'failed', reason, channel }, 0);
  }
  for (const reason of ['no_channel', 'channel_removed']) ctx.metrics.alertsTotal.inc({ outcome: 'failed', reason, channel: 'none' }, 0);
  const alertWorker = createQueueWorker(ctx, { queue: ALERT_QUEUE, policy: alertPolicy, processor: (job) => processAlert(job.data, deliveryCtx, job) });
  // A delivery job failing for good without its outcome in the ledger (the database
  // down through every attempt, a worker that kept dying) is lost to AlertDeliveriesFailing
  // and waits an hour for AlertsStuck: it has a counter of its own, from 0.
  for (const kind of LOST_JOB_KINDS) ctx.metrics.alertDeliveryJobsLost.inc({ kind }, 0);
  const deliveryWorker = createQueueWorker(ctx, {
    queue: ALERT_DELIVERY_QUEUE,
    policy: alertDeliveryPolicy,
    processor: (job, token) => processDelivery(job, deliveryCtx, token),
    onFinalFailure: (job, err) => {
      if (!wasRecorded(err)) ctx.metrics.alertDeliveryJobsLost.inc({ kind: lostJobKind(job?.name) });
    },
  });
  return { workers: [alertWorker as Worker, deliveryWorker as Worker], deliveries, drain: () => deliveryCtx.decider.forgotten() };
}
