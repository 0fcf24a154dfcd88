/**
 * alert processor: one decision per alert (lib/alerts/decide.ts, one Redis script),
 * recorded in the ledger, then what follows: a `deliver` decision is sent inline
 * (fast-path.ts, falling back to queued `deliver` jobs for retries and 429s), a group
 * flush is scheduled when a group opens, a digest when quiet hours defer.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { AlertDecision } from '../../../lib/alerts/decide.js';
import { alertJob, type Alert, type AlertJob } from '../../../lib/contracts/alert.js';
import { parsePayload } from '../../registration.js';
import { NotFoundError } from '../../../lib/errors.js';
import type { AlertDeps } from '../deps.js';
import type { ChannelRow } from '../stores/channels.js';
import { fanOut } from './fan-out.js';
import { receive, record } from '../stores/ledger.js';
import type { RowState } from '../stores/ledger-store.js';
import { alertPolicyOf } from '../stores/policy.js';
import { scheduleDigest, scheduleFlush } from './schedule.js';

/** Runs one alert job outside a worker (tests): its payload validated as the worker's dispatch does. */
export function processAlert(data: unknown, ctx: AlertDeps, job?: Pick<Job, 'id' | 'attemptsStarted'>): Promise<{ outcome: string; reason?: string }> {
  return decideAlert(parsePayload(alertJob, data), ctx, job);
}

/** The alert job, its payload validated. */
export async function decideAlert(data: AlertJob, ctx: AlertDeps, job?: Pick<Job, 'id' | 'attemptsStarted'>): Promise<{ outcome: string; reason?: string }> {
  const alert = data.alert;
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
  // Alert ids are callers' to choose, and the ledger's key: another tenant's row under
  // this id is not this alert, and deciding or sending on it would act on that row.
  // Refused for good, with a reason the failed job and the log both carry.
  if (row.tenantId !== null && row.tenantId !== alert.tenantId) {
    ctx.logger.error({ event: 'alert_id_conflict', tenant_id: alert.tenantId, alert_id: alert.id, alert_type: alert.type, severity: alert.severity }, 'alert id already used by another tenant\'s alert: not recorded');
    throw new UnrecoverableError(`alert id ${alert.id} is already used by another tenant's alert: this alert was not recorded; send it again with another id (or none)`);
  }
  // A re-run (a retry, or a job taken over from a worker that died) may follow a crash
  // anywhere in the run before. It sends through queued `deliver` jobs, never inline,
  // so a hand-over already queued stays one job (job ids come from the content).
  const rerun = (job?.attemptsStarted ?? 1) > 1;
  if (row.outcome !== 'received') {
    // Decided and recorded before: a first run finding that is the same alert sent again
    // after its job was gone; a re-run redoes, from the row, what may have been cut short.
    if (rerun) await resumeFromRow(ctx, alert, row);
    return { outcome: row.outcome, reason: row.reason ?? undefined };
  }
  const policy = alertPolicyOf(inputs.value);
  // Still received: decided now, or, on a re-run that died before recording, the same
  // decision given back by the script (it remembers it until forget() below).
  // The channels' pauses are read by the same script call: a `deliver` decision is sent
  // at once, without a second round trip to learn them.
  const decision = await ctx.decider.decide(
    { tenantId: alert.tenantId, alertId: alert.id, type: alert.type, severity: alert.severity, groupKey: alert.groupKey, userId: alert.userId, dedupeKey: alert.source?.auditEventId },
    policy,
    row.channels.map((c) => ctx.pauses.keyOf(alert.tenantId, c.id)),
  );
  const paused = ctx.pauses.fromTtls(row.channels.map((c) => c.id), decision.watchedTtlMs ?? []);
  const result = await act(ctx, alert, decision, row.channels, rerun, paused);
  ctx.decider.forget({ tenantId: alert.tenantId, alertId: alert.id });
  return result;
}

/** What follows a decision: each job that will send is queued before the row says it waits for it. */
async function act(ctx: AlertDeps, alert: Alert, decision: AlertDecision, channels: ChannelRow[], rerun: boolean, paused: Map<string, number>): Promise<{ outcome: string; reason?: string }> {
  const context = { tenantId: alert.tenantId, type: alert.type, severity: alert.severity, userId: alert.userId };
  // Past the script's memory, a re-run sees its own dedupe key as a duplicate of itself;
  // delivering is the choice that loses nothing.
  const selfDuplicate = decision.outcome === 'suppress' && decision.reason === 'duplicate' && decision.duplicateOf === alert.id;
  if (decision.outcome === 'deliver' || selfDuplicate) {
    // The channels came with the receipt (one statement): no second wait for them.
    await fanOut(ctx, [alert], 'single', alert.id, { channels, inline: rerun ? undefined : { alert, paused } });
    return { outcome: 'deliver' };
  }
  if (decision.outcome === 'suppress') {
    await record(ctx, [alert.id], { outcome: 'suppressed', reason: decision.reason }, context);
    return { outcome: 'suppressed', reason: decision.reason };
  }
  if (decision.outcome === 'defer') {
    const until = decision.deferUntil!;
    await scheduleDigest(ctx, alert.tenantId, until);
    await record(ctx, [alert.id], { outcome: 'deferred', reason: 'quiet_hours', deferUntil: until }, context);
    return { outcome: 'deferred', reason: 'quiet_hours' };
  }
  const group = decision.group!;
  if (group.opened) await scheduleFlush(ctx, alert.tenantId, group.id, group.flushAt);
  // defer_until of a grouped row is its group's flush time (the sweep looks for rows past it).
  await record(ctx, [alert.id], { outcome: 'grouped', reason: group.opened ? 'group_opened' : 'grouped', groupId: group.id, deferUntil: group.flushAt }, context);
  return { outcome: 'grouped' };
}

/**
 * A re-run of an alert whose row was recorded: queue again what the row waits for
 * (job ids make an existing job one job). A group member or a digest row needs
 * nothing of its own: its group's or tenant's job sends it.
 */
async function resumeFromRow(ctx: AlertDeps, alert: Alert, row: RowState & { channels: ChannelRow[] }): Promise<void> {
  if (row.outcome === 'grouped' && row.reason === 'group_opened' && row.groupId && row.deferUntil) return scheduleFlush(ctx, alert.tenantId, row.groupId, row.deferUntil);
  if (row.outcome === 'deferred' && row.deferUntil) return scheduleDigest(ctx, alert.tenantId, row.deferUntil);
  const sentAlone = row.groupId === null && row.reason !== 'quiet_hours';
  const sent = row.outcome === 'delivering' || ((row.outcome === 'delivered' || row.outcome === 'failed') && row.reason !== 'no_channel');
  if (!sentAlone || !sent) return;
  // Each channel's row says whether it was reached: of the alert's channels now, only
  // the others are queued again (one with no row may have been cut short before its send).
  const finished = new Set(row.deliveries.filter((d) => d.outcome === 'delivered' || d.outcome === 'failed').map((d) => d.channelId));
  const pending = row.channels.filter((c) => !finished.has(c.id));
  if (pending.length > 0) await fanOut(ctx, [alert], 'single', alert.id, { channels: pending });
  // A channel still waited for but removed, disabled or no longer taking the severity
  // since: nothing will send to it, so its row is closed, or the alert would wait for ever.
  const current = new Set(row.channels.map((c) => c.id));
  for (const d of row.deliveries.filter((x) => x.outcome === 'delivering' && !current.has(x.channelId))) {
    await record(ctx, [alert.id], { outcome: 'failed', reason: 'channel_removed', channelId: d.channelId, channel: d.channel ?? undefined }, { tenantId: alert.tenantId, type: alert.type, severity: alert.severity });
  }
}
