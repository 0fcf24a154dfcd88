/**
 * alert-delivery processor. `deliver` sends one message to one channel: queued for a
 * group or a digest, or taking over from the alert job's inline send after a 429 or
 * a retryable failure. `group-flush` and `digest` turn grouped or deferred ledger rows
 * into deliveries. Network errors and 5xx retry with exponential backoff and jitter;
 * a 429 pauses the channel until Retry-After without spending an attempt (this job,
 * and any other for the channel, waits in delayed until then); any other 4xx
 * fails at once with its status (attempt.ts classifies, for both paths alike).
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { alertDeliveryJobs, type DeliverJob } from '../../../lib/contracts/alert-delivery.js';
import type { AlertDeps } from '../deps.js';
import { attemptDelivery } from '../sending/attempt.js';
import { deliverJobKey } from './deliver-jobs.js';
import { channelById } from '../stores/channels.js';
import { record } from '../stores/ledger.js';
import { messageFor } from '../sending/message.js';
import { parsePayload } from '../../registration.js';
import { sendDigest } from './digest.js';
import { flushGroup } from './group-flush.js';
import { sweep } from './sweep.js';
/**
 * An error thrown after the job's failure was recorded in the ledger (`failed`, with
 * its reason): the job fails as it would, but is not counted as lost
 * (bulwark_alert_delivery_jobs_lost_total, see index.ts). `unrecoverable` fails it at
 * once: BullMQ reads that from the name, as for its own UnrecoverableError.
 */
export class RecordedError extends Error {
  constructor(message: string, options: { unrecoverable: boolean }) {
    super(message);
    this.name = options.unrecoverable ? 'UnrecoverableError' : 'Error';
  }
}

/** Whether a job's failure was recorded in the ledger before it was thrown. */
export function wasRecorded(err: unknown): boolean {
  return err instanceof RecordedError;
}

export async function deliver(data: DeliverJob, ctx: AlertDeps, job: Job, token?: string): Promise<{ status: number }> {
  const channel = await channelById(ctx.pg, data.tenantId, data.channelId);
  const rows = await ctx.prisma.alertRecord.findMany({ where: { id: { in: data.alertIds }, tenantId: data.tenantId }, orderBy: { occurredAt: 'asc' } });
  const context = { tenantId: data.tenantId, type: rows[0]?.type, severity: rows[0]?.severity };
  if (!channel || rows.length === 0) {
    await record(ctx, data.alertIds, { outcome: 'failed', reason: 'channel_removed', channelId: data.channelId, channel: channel?.name }, context);
    throw new RecordedError(`channel ${data.channelId} or its alerts no longer exist`, { unrecoverable: true });
  }
  // A paused channel (a receiver's 429, seen by any process) is not sent to: this job
  // waits for the end of the pause without spending an attempt.
  const pausedUntil = token === undefined ? undefined : (await ctx.pauses.pausedUntil(data.tenantId, [channel.id])).get(channel.id);
  if (pausedUntil !== undefined) {
    await job.moveToDelayed(Date.now() + (pausedUntil - ctx.clock().getTime()), token);
    throw new DelayedError();
  }
  // Attempts made inline by the alert job count too; this job's limit is already shifted by them.
  const attempts = (data.priorAttempts ?? 0) + job.attemptsMade + 1;
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const outcome = await ctx.slots.withRelease(channel.id, (releaseSlot) =>
    attemptDelivery(ctx, { tenantId: data.tenantId, channel, alertIds: data.alertIds, message: messageFor(data.tenantId, data.kind, rows), context, attempts, lastAttempt, canPause: token !== undefined, jobKey: deliverJobKey(job.id, channel.id), releaseSlot }),
  );
  switch (outcome.kind) {
    case 'delivered':
      return { status: outcome.status };
    case 'paused':
      await job.moveToDelayed(Date.now() + outcome.retryAfterMs, token);
      throw new DelayedError();
    case 'retry':
      throw new Error(`channel ${channel.name}: ${outcome.error}`);
    case 'failed':
      if (outcome.reason === 'credential') throw new RecordedError(`channel ${channel.name}: ${outcome.error}`, { unrecoverable: true });
      if (outcome.reason === 'rejected') throw new RecordedError(`channel ${channel.name} refused the message (${outcome.status ?? 'no status'}): ${outcome.error}`, { unrecoverable: true });
      throw new RecordedError(`channel ${channel.name}: ${outcome.error}`, { unrecoverable: false });
  }
}

/** The alert-delivery queue's job kinds, by name: what each runs with its validated payload. */
export const deliveryHandlers: Record<string, (ctx: AlertDeps, data: never, job: Job, token?: string) => Promise<unknown>> = {
  deliver: (ctx, data: DeliverJob, job, token) => deliver(data, ctx, job, token),
  'group-flush': (ctx, data: Parameters<typeof flushGroup>[1]) => flushGroup(ctx, data),
  digest: (ctx, data: Parameters<typeof sendDigest>[1]) => sendDigest(ctx, data),
  sweep: (ctx) => sweep(ctx),
};

/**
 * Runs one alert-delivery job outside a worker (tests, tools): its payload validated
 * as the worker's dispatch does (app/workers.ts), then its kind's handler.
 */
export async function processDelivery(job: Job, ctx: AlertDeps, token?: string): Promise<unknown> {
  const def = alertDeliveryJobs.find((d) => d.name === job.name);
  const handler = def && deliveryHandlers[def.name];
  if (!def || !handler) throw new UnrecoverableError(`unknown alert-delivery job "${job.name}"`);
  return handler(ctx, parsePayload(def, job.data) as never, job, token);
}
