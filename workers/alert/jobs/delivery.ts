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
import { deliverJobSchema, digestJobSchema, groupFlushJobSchema, sweepJobSchema, type DeliverJob } from '../../../lib/contracts/alert-delivery.js';
import { attemptDelivery } from '../sending/attempt.js';
import { deliverJobKey } from './deliver-jobs.js';
import { withChannelSlotRelease } from '../sending/slots.js';
import { channelById } from '../stores/channels.js';
import { record } from '../stores/ledger.js';
import { messageFor } from '../sending/message.js';
import { fanOut } from './fan-out.js';
import { flushGroup } from './group-flush.js';
import type { AlertContext } from './processor.js';
import { sweep } from './sweep.js';

export type DeliveryContext = AlertContext;

/**
 * Marks an error thrown after the failure was recorded in the ledger (`failed`, with
 * its reason): the job fails as before, but is not counted as lost
 * (bulwark_alert_delivery_jobs_lost_total, see index.ts).
 */
function recorded<E extends Error>(err: E): E & { recorded: true } {
  return Object.assign(err, { recorded: true as const });
}

/** Whether a job's failure was recorded in the ledger before it was thrown. */
export function wasRecorded(err: unknown): boolean {
  return (err as { recorded?: unknown } | null)?.recorded === true;
}

async function deliver(data: DeliverJob, ctx: DeliveryContext, job: Job, token?: string): Promise<{ status: number }> {
  const channel = await channelById(ctx.pg, data.tenantId, data.channelId);
  const rows = await ctx.prisma.alertRecord.findMany({ where: { id: { in: data.alertIds }, tenantId: data.tenantId }, orderBy: { occurredAt: 'asc' } });
  const context = { tenantId: data.tenantId, type: rows[0]?.type, severity: rows[0]?.severity };
  if (!channel || rows.length === 0) {
    await record(ctx, data.alertIds, { outcome: 'failed', reason: 'channel_removed', channelId: data.channelId, channel: channel?.name }, context);
    throw recorded(new UnrecoverableError(`channel ${data.channelId} or its alerts no longer exist`));
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
  const outcome = await withChannelSlotRelease(channel.id, (releaseSlot) =>
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
      if (outcome.reason === 'credential') throw recorded(new UnrecoverableError(`channel ${channel.name}: ${outcome.error}`));
      if (outcome.reason === 'rejected') throw recorded(new UnrecoverableError(`channel ${channel.name} refused the message (${outcome.status ?? 'no status'}): ${outcome.error}`));
      throw recorded(new Error(`channel ${channel.name}: ${outcome.error}`));
  }
}

export async function processDelivery(job: Job, ctx: DeliveryContext, token?: string): Promise<unknown> {
  if (job.name === 'deliver') {
    const parsed = deliverJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('invalid deliver payload');
    return deliver(parsed.data, ctx, job, token);
  }
  if (job.name === 'group-flush') {
    const parsed = groupFlushJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('invalid group-flush payload');
    return flushGroup(ctx, parsed.data);
  }
  if (job.name === 'digest') {
    const parsed = digestJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('invalid digest payload');
    const rows = await ctx.prisma.alertRecord.findMany({ where: { tenantId: parsed.data.tenantId, outcome: 'deferred', deferUntil: { lte: new Date(Date.parse(parsed.data.until) + 1000) } }, orderBy: { occurredAt: 'asc' } });
    if (rows.length === 0) return { sent: 0 };
    return { channels: await fanOut(ctx, rows, 'digest', `d-${parsed.data.tenantId}-${Date.parse(parsed.data.until)}`, { parts: true }) };
  }
  if (job.name === 'sweep') {
    if (!sweepJobSchema.safeParse(job.data).success) throw new UnrecoverableError('invalid sweep payload');
    return sweep(ctx);
  }
  throw new UnrecoverableError(`unknown alert-delivery job "${job.name}"`);
}
