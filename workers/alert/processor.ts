/**
 * alert processor: one decision per alert (lib/alerts/decide.ts, one Redis script),
 * recorded in the ledger, then what follows: a `deliver` decision is sent inline
 * (fast-path.ts, falling back to queued `deliver` jobs for retries and 429s), a group
 * flush is scheduled when a group opens, a digest when quiet hours defer.
 */
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { policyFromSettings, type AlertDecider } from '../../lib/alerts/decide.js';
import { alertJobSchema, type Alert } from '../../lib/contracts/alert.js';
import { NotFoundError, problemsFromZod } from '../../lib/errors.js';
import type { PolicyInputsOf } from './policy-store.js';
import type { SendDeps } from './attempt.js';
import type { ChannelRow, ChannelsFor } from './channel-store.js';
import { deliveryJobOpts, enqueueDeliveries } from './deliver-jobs.js';
import { deliverInline } from './fast-path.js';
import { receive, record } from './ledger.js';
import { highestSeverity } from './message.js';

export interface AlertContext extends SendDeps {
  decider: AlertDecider;
  deliveries: Queue;
  /** The tenant's enabled channels for a severity, read now (batched with other jobs). */
  channelsFor: ChannelsFor;
  /** The tenant's settings and time zone, read for this alert (policy-store.ts). */
  policyInputsOf: PolicyInputsOf;
  clock: () => Date;
}

type Sendable = Pick<Alert, 'id' | 'tenantId' | 'type'> & { severity: string };

/** Outcomes after which an alert job has nothing left to do. */
const FINISHED = new Set(['delivered', 'failed', 'suppressed']);

/**
 * Deliver to every channel that takes the (highest) severity; with no channel the
 * alerts fail visibly. With `inline` the alert is sent by this job (fast-path.ts);
 * otherwise each channel gets a queued `deliver` job.
 */
export async function fanOut(
  ctx: AlertContext,
  alerts: Sendable[],
  kind: 'single' | 'group' | 'digest',
  key: string,
  options: { channels?: ChannelRow[]; inline?: Alert } = {},
): Promise<number> {
  const first = alerts[0]!;
  const severity = highestSeverity(alerts.map((a) => a.severity));
  const channels = options.channels ?? (await ctx.channelsFor(first.tenantId, severity));
  const ids = alerts.map((a) => a.id);
  if (channels.length === 0) {
    await record(ctx, ids, { outcome: 'failed', reason: 'no_channel' }, { tenantId: first.tenantId, type: first.type, severity });
    return 0;
  }
  if (options.inline) {
    await deliverInline(ctx, options.inline, channels);
    return channels.length;
  }
  // Queued first, recorded second: a crash in between leaves the rows as they were, so
  // the job run again finds and queues them again (the job ids make that one job each).
  // Recorded the other way round, the re-run would find nothing left to send.
  await enqueueDeliveries(ctx.deliveries, channels.map((c) => ({ tenantId: first.tenantId, channelId: c.id, kind, alertIds: ids, key })));
  await record(ctx, ids, { outcome: 'delivering' }, { tenantId: first.tenantId });
  return channels.length;
}

export async function processAlert(data: unknown, ctx: AlertContext, job?: Pick<Job, 'id' | 'attemptsStarted'>): Promise<{ outcome: string; reason?: string }> {
  const parsed = alertJobSchema.safeParse(data);
  if (!parsed.success) {
    throw new UnrecoverableError(`invalid alert payload: ${problemsFromZod(parsed.error.issues).map((p) => `${p.path}: ${p.message}`).slice(0, 10).join('; ')}`);
  }
  const alert = parsed.data.alert;
  // The policy read and the receipt do not depend on each other: one wait, not two.
  // The policy is looked at first, so an unknown tenant is reported as such (its
  // receipt fails too, on the ledger's foreign key).
  const [inputs, receipt] = await Promise.allSettled([ctx.policyInputsOf(alert.tenantId), receive(ctx, alert, ctx.clock())]);
  if (inputs.status === 'rejected') {
    if (inputs.reason instanceof NotFoundError) throw new UnrecoverableError(`unknown tenant ${alert.tenantId}`);
    throw inputs.reason;
  }
  if (receipt.status === 'rejected') throw receipt.reason;
  const row = receipt.value;
  // A re-run (a retry, or a job taken over from a worker that died) may follow a crash
  // anywhere in the run before. It gets the same decision back (the decision script
  // remembers it), redoes only what is idempotent (job ids make a queued job one job;
  // a decision is recorded only over a row still `received`), and sends through queued
  // `deliver` jobs, never inline, so a hand-over already queued is not sent twice.
  const rerun = (job?.attemptsStarted ?? 1) > 1;
  const done = { outcome: row.outcome, reason: row.reason ?? undefined };
  // A first run finding the row decided: the same alert sent again after its job was gone.
  if (!rerun && row.outcome !== 'received') return done;
  // The one row of an alert with several channels tells only the last channel's send,
  // so a re-run queues them all again: a repeat is better than a channel left out.
  if (FINISHED.has(row.outcome) && row.channels.length <= 1) return done;
  const { settings, timezone } = inputs.value;
  const policy = policyFromSettings({ ...settings.alerts, quietHours: { ...settings.alerts.quietHours, timezone } });
  const decision = await ctx.decider.decide(
    { tenantId: alert.tenantId, alertId: alert.id, type: alert.type, severity: alert.severity, groupKey: alert.groupKey, userId: alert.userId, dedupeKey: alert.source?.auditEventId },
    policy,
  );
  const context = { tenantId: alert.tenantId, type: alert.type, severity: alert.severity, userId: alert.userId };
  // Past the script's memory of this alert, a re-run sees its own dedupe key as a
  // duplicate of itself; delivering is the choice that loses nothing.
  const selfDuplicate = decision.outcome === 'suppress' && decision.reason === 'duplicate' && decision.duplicateOf === alert.id;
  if (decision.outcome === 'deliver' || selfDuplicate) {
    // The channels came with the receipt (one statement): no second wait for them.
    await fanOut(ctx, [alert], 'single', alert.id, { channels: row.channels, inline: rerun ? undefined : alert });
    return { outcome: 'deliver' };
  }
  if (decision.outcome === 'suppress') {
    await record(ctx, [alert.id], { outcome: 'suppressed', reason: decision.reason }, context);
    return { outcome: 'suppressed', reason: decision.reason };
  }
  // Deferred and grouped rows wait for a job that sends them: it is queued before the
  // row says so, so a crash in between cannot leave a row waiting for nothing.
  if (decision.outcome === 'defer') {
    const until = decision.deferUntil!;
    await ctx.deliveries.add('digest', { v: 1, tenantId: alert.tenantId, until: until.toISOString() }, { ...deliveryJobOpts, delay: Math.max(0, until.getTime() - ctx.clock().getTime()), jobId: `digest-${alert.tenantId}-${until.getTime()}` });
    await record(ctx, [alert.id], { outcome: 'deferred', reason: 'quiet_hours', deferUntil: until }, context);
    return { outcome: 'deferred', reason: 'quiet_hours' };
  }
  const group = decision.group!;
  if (group.opened) {
    // Members may join until flushAt; flush just after it.
    await ctx.deliveries.add('group-flush', { v: 1, tenantId: alert.tenantId, groupId: group.id }, { ...deliveryJobOpts, delay: Math.max(0, group.flushAt.getTime() - ctx.clock().getTime() + 250), jobId: `group-${group.id}` });
  }
  // defer_until of a grouped row is its group's flush time (the sweep looks for rows past it).
  await record(ctx, [alert.id], { outcome: 'grouped', reason: group.opened ? 'group_opened' : 'grouped', groupId: group.id, deferUntil: group.flushAt }, context);
  return { outcome: 'grouped' };
}
