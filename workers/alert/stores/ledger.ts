/**
 * The alert ledger: one row per alert, holding the decision (outcome, reason) and,
 * once sent, the delivery (channel, attempts, status, time to deliver), plus one row
 * per alert and channel sent to (alert_deliveries). Every change
 * is also a structured log event and a count in bulwark_alerts_total, so nothing is
 * dropped without a trace. The statements themselves are in ledger-store.ts.
 */
import type { Alert } from '../../../lib/contracts/alert.js';
import type { AlertDeps, AlertLogFields } from '../deps.js';
import type { ChannelRow } from './channels.js';
import type { LedgerChange, RowState } from './ledger-store.js';

export type { LedgerChange, LedgerOutcome } from './ledger-store.js';

const EVENT: Record<string, string> = {
  suppressed: 'alert_suppressed',
  deferred: 'alert_deferred',
  grouped: 'alert_grouped',
  delivered: 'alert_delivered',
  failed: 'alert_failed',
};

/**
 * Insert the alert as received; idempotent: a retried job finds its row (and the
 * outcome an earlier attempt recorded) instead of inserting a second one. The alert's
 * channels come with it (read in the same statement, at this moment).
 */
export async function receive(deps: Pick<AlertDeps, 'ledger' | 'logger' | 'metrics'>, alert: Alert, receivedAt: Date): Promise<RowState & { channels: ChannelRow[] }> {
  const receipt = await deps.ledger.receive(alert, receivedAt);
  if (receipt.inserted) return { tenantId: alert.tenantId, outcome: 'received', reason: null, groupId: null, deferUntil: null, deliveries: [], channels: receipt.channels };
  return { ...(await deps.ledger.outcomeOf(alert.id)), channels: receipt.channels };
}

/**
 * Record an outcome for some alerts; logs and counts it once per alert it changed (a
 * replayed decision, or a late `delivering`, changes nothing and is not told twice).
 */
export async function record(deps: Pick<AlertDeps, 'ledger' | 'logger' | 'metrics'>, alertIds: string[], change: LedgerChange, context: AlertLogFields): Promise<void> {
  const ids = await deps.ledger.apply(alertIds, change);
  const event = EVENT[change.outcome];
  if (!event || ids.length === 0) return;
  // The channel label is the channel's type: names are tenants' own and unbounded.
  deps.metrics.alertsTotal.inc({ outcome: change.outcome, reason: change.reason ?? 'none', channel: change.channelType ?? 'none' }, ids.length);
  const level = change.outcome === 'failed' ? 'error' : 'info';
  deps.logger[level](
    {
      event,
      tenant_id: context.tenantId,
      alert_ids: ids.length > 20 ? `${ids.length} alerts` : ids,
      alert_type: context.type,
      severity: context.severity,
      reason: change.reason,
      channel: change.channel,
      attempts: change.attempts,
      status: change.status,
      defer_until: change.deferUntil?.toISOString(),
      group_id: change.groupId,
    },
    `alert ${change.outcome}`,
  );
  if (change.reason === 'user_throttled') {
    // EPIC-009's event name for per-user abuse throttling.
    deps.logger.warn({ event: 'abuse_throttle_deny', tenant_id: context.tenantId, user_id: context.userId, alert_type: context.type }, 'user throttled');
  }
}
