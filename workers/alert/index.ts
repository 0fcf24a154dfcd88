/**
 * The alert worker's side of the registry (workers/registry.ts): its dependencies,
 * built once per process, and a handler per job kind of the alert and alert-delivery
 * queues, with the hooks they share (the decider's pending forgets drained at stop,
 * lost delivery jobs counted).
 */
import type { Job, Queue } from 'bullmq';
import { createAlertDecider } from '../../lib/alerts/decide.js';
import { CHANNEL_TYPES } from '../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../lib/config.js';
import type { AppContext } from '../../lib/context.js';
import { ALERT_QUEUE, type AlertJob } from '../../lib/contracts/alert.js';
import {
  alertDeliveryJobs,
  alertDeliveryQueue,
  type DeliverJob,
  type DigestJob,
  type GroupFlushJob,
} from '../../lib/contracts/alert-delivery.js';
import type { JobHandler, WorkerScope } from '../registration.js';
import type { AlertDeps, AlertWorkerOptions } from './deps.js';
import { deliver, wasRecorded } from './jobs/delivery.js';
import { sendDigest } from './jobs/digest.js';
import { flushGroup } from './jobs/group-flush.js';
import { decideAlert } from './jobs/processor.js';
import { countStuckAlerts, sweep } from './jobs/sweep.js';
import { createGuardedPost } from './sending/channels/guarded-post.js';
import { createChannelPauses } from './sending/pause.js';
import { createChannelSlots } from './sending/slots.js';
import { createChannelReader } from './stores/channels.js';
import { createLedgerStore } from './stores/ledger-store.js';
import { createPolicyReader } from './stores/policy.js';

export type { AlertDeps, AlertWorkerOptions } from './deps.js';

/** What both alert processors work with; `deliveries` is the queue they hand sends to. */
export function createAlertDeps(ctx: AppContext, deliveries: Queue, options: AlertWorkerOptions = {}): AlertDeps {
  const logger = ctx.logger.child({ queue: ALERT_QUEUE });
  return {
    prisma: ctx.prisma,
    pg: ctx.pg,
    ledger: createLedgerStore(ctx.pg),
    channelsFor: createChannelReader(ctx.pg),
    logger,
    metrics: ctx.metrics,
    // The decision's keys and the channel pauses it reads share the tenant's hash tag
    // (not the queues' one): a Redis Cluster spreads tenants over its masters.
    decider: createAlertDecider(ctx.redis, {
      keyPrefix: ctx.config.keyPrefix,
      clock: ctx.clock,
      onForgetError: (err) =>
        logger.warn(
          { event: 'alert_forget_failed', err },
          'could not drop remembered alert decisions: they expire on their own',
        ),
    }),
    deliveries,
    // Read for every alert (batched across jobs): a policy change applies to the next alert.
    policyInputsOf: createPolicyReader(ctx.pg),
    clock: ctx.clock,
    keys: requireMasterKeys(ctx.config),
    pauses: createChannelPauses(ctx.redis, { keyPrefix: ctx.config.keyPrefix, clock: ctx.clock }),
    slots: createChannelSlots(),
    http: createGuardedPost(),
    // The target check comes from the config even when a test sets the other options.
    send: {
      timeoutMs: ctx.config.alertHttpTimeoutMs,
      telegramBaseUrl: ctx.config.telegramApiUrl,
      webhookMaxBodyBytes: ctx.config.webhookMaxBodyBytes,
      ...options.send,
      allowPrivateTargets: ctx.config.alertTargetsAllowPrivate,
    },
  };
}

/**
 * The `kind` label of bulwark_alert_delivery_jobs_lost_total: the delivery queue's job
 * names (from its contract), and `other` for a job with any other name (anyone who can
 * write to Redis can add one) or none (BullMQ reports some failures without the job).
 * A closed set, so a stray job name cannot add series.
 */
export const LOST_JOB_KINDS: readonly string[] = [...alertDeliveryJobs.map((j) => j.name), 'other'];
export function lostJobKind(name: string | undefined): string {
  return LOST_JOB_KINDS.find((k) => k === name && k !== 'other') ?? 'other';
}

/** The process's alert dependencies (one per process: scope.shared), its metric series started at 0. */
function alertDeps(scope: WorkerScope): AlertDeps {
  const { metrics } = scope.ctx;
  // The failure series AlertDeliveriesFailing watches exist from the start at 0, so a
  // process's first failure is an increase too (a series first seen at 1 has none).
  for (const reason of ['credential', 'misconfigured', 'rejected', 'retries_exhausted']) {
    for (const channel of CHANNEL_TYPES) metrics.alertsTotal.inc({ outcome: 'failed', reason, channel }, 0);
  }
  for (const reason of ['no_channel', 'channel_removed'])
    metrics.alertsTotal.inc({ outcome: 'failed', reason, channel: 'none' }, 0);
  // A delivery job failing for good without its outcome in the ledger (the database
  // down through every attempt, a worker that kept dying) is lost to AlertDeliveriesFailing
  // and waits an hour for AlertsStuck: it has a counter of its own, from 0.
  for (const kind of LOST_JOB_KINDS) metrics.alertDeliveryJobsLost.inc({ kind }, 0);
  return createAlertDeps(scope.ctx, scope.queue(alertDeliveryQueue), scope.options.alerts);
}

/**
 * Remembered decisions are forgotten after their jobs finish, so shutdown waits for
 * those forgets before closing the Redis connection (or they fail and wait out their TTL).
 * The workers are closed by then, so no send is left: the keep-alive pools close too.
 */
const drain = async (scope: WorkerScope) => {
  const deps = scope.shared(alertDeps);
  try {
    await deps.decider.forgotten();
  } finally {
    deps.http.close();
  }
};

const countLost = (scope: WorkerScope, job: { name?: string } | undefined, err: Error) => {
  if (!wasRecorded(err)) scope.ctx.metrics.alertDeliveryJobsLost.inc({ kind: lostJobKind(job?.name) });
};

/** A handler of an alert-delivery job kind: its processor runs with the shared dependencies. */
function deliveryHandler<D>(
  run: (deps: AlertDeps, data: D, job: Job, token?: string) => Promise<unknown>,
): JobHandler<D> {
  return {
    processor: (scope) => {
      const deps = scope.shared(alertDeps);
      return (data, job, token) => run(deps, data, job, token);
    },
    drain,
    onFinalFailure: countLost,
  };
}

export const alertHandlers = {
  alert: {
    processor: (scope) => {
      const deps = scope.shared(alertDeps);
      return (data, job) => decideAlert(data, deps, job);
    },
    drain,
  } satisfies JobHandler<AlertJob>,
  deliver: deliveryHandler<DeliverJob>((deps, data, job, token) => deliver(data, deps, job, token)),
  groupFlush: deliveryHandler<GroupFlushJob>((deps, data) => flushGroup(deps, data)),
  digest: deliveryHandler<DigestJob>((deps, data) => sendDigest(deps, data)),
  // bulwark_alerts_stuck: what the sweep reports, counted from Postgres at each scrape.
  sweep: {
    ...deliveryHandler<unknown>((deps) => sweep(deps)),
    gauges: (ctx, { database }) => {
      if (database) ctx.metrics.setStuckAlertsSource(() => countStuckAlerts(ctx.pg, ctx.clock()));
    },
  } satisfies JobHandler<unknown>,
};
