/**
 * A group's flush (its delayed `group-flush` job, or the sweep's for a late member):
 * the alerts still `grouped` go out as one message. Quiet hours were checked when each
 * alert was decided, but a group opened just before they begin is flushed after its
 * wait, possibly inside them; so they are checked again here, at the flush, under the
 * tenant's policy as it is now (read live, as for a decision). When they hold the
 * group (its highest severity does not bypass them), it is not sent: `defer` hands
 * its alerts to the tenant's digest at the window's end, the same rows and job as an
 * alert deferred when decided, so they go out in the one digest per tenant and
 * channel; `drop` suppresses them with the decision's reason, `quiet_hours`.
 */
import { isSeverity, quietHoldAt, type QuietHold } from '../../../lib/alerts/quiet-hold.js';
import type { GroupFlushJob } from '../../../lib/contracts/alert-delivery.js';
import { fanOut } from './fan-out.js';
import { record } from '../stores/ledger.js';
import { highestSeverity } from '../sending/message.js';
import { alertPolicyOf } from '../stores/policy.js';
import type { AlertDeps } from '../deps.js';
import { scheduleDigest } from './schedule.js';

export type FlushResult = { sent: 0 } | { channels: number } | { held: 'deferred' | 'suppressed'; alerts: number };

type GroupRow = { id: string; tenantId: string; type: string; severity: string };

export async function flushGroup(ctx: AlertDeps, job: GroupFlushJob): Promise<FlushResult> {
  // Only rows still grouped: a flush run again after it sent, deferred or dropped them finds none.
  const rows = await ctx.prisma.alertRecord.findMany({ where: { tenantId: job.tenantId, groupId: job.groupId, outcome: 'grouped' }, orderBy: { occurredAt: 'asc' } });
  if (rows.length === 0) return { sent: 0 };
  const severity = highestSeverity(rows.map((r) => r.severity));
  const hold = await quietHoldNow(ctx, job.tenantId, severity);
  if (hold) return holdGroup(ctx, job, rows, severity, hold);
  return { channels: await fanOut(ctx, rows, rows.length === 1 ? 'single' : 'group', `g-${job.groupId}`, { parts: true }) };
}

/** Whether quiet hours hold alerts of this severity now, under the tenant's current policy. */
async function quietHoldNow(ctx: AlertDeps, tenantId: string, severity: string): Promise<QuietHold | undefined> {
  const policy = alertPolicyOf(await ctx.policyInputsOf(tenantId));
  // The contract allows no other severity; were one stored, holding it loses nothing.
  return quietHoldAt(ctx.clock(), policy.quietHours, isSeverity(severity) ? severity : 'info');
}

/**
 * The group's rows become a quiet-hours decision, written only over rows still
 * `grouped` (ledger `from`): a flush run again, or the sweep's beside the first,
 * changes, logs and counts each alert once. Deferred: the digest job is queued before
 * the rows say they wait for it (see *Crashes* in docs/jobs/alert.md), so a crash in
 * between leaves them grouped for the re-run, and the job id makes that one job.
 */
async function holdGroup(ctx: AlertDeps, job: GroupFlushJob, rows: GroupRow[], severity: string, hold: QuietHold): Promise<FlushResult> {
  const ids = rows.map((r) => r.id);
  const context = { tenantId: job.tenantId, type: rows[0]!.type, severity };
  if (hold.mode === 'drop') {
    await record(ctx, ids, { outcome: 'suppressed', reason: 'quiet_hours', groupId: job.groupId, from: 'grouped' }, context);
    return { held: 'suppressed', alerts: ids.length };
  }
  await scheduleDigest(ctx, job.tenantId, hold.until);
  await record(ctx, ids, { outcome: 'deferred', reason: 'quiet_hours', groupId: job.groupId, deferUntil: hold.until, from: 'grouped' }, context);
  return { held: 'deferred', alerts: ids.length };
}
