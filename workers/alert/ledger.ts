/**
 * The alert ledger: one row per alert, holding the decision (outcome, reason) and,
 * once sent, the delivery (channel, attempts, status, time to deliver). Every change
 * is also a structured log event and a count in bulwark_alerts_total, so nothing is
 * dropped without a trace.
 *
 * These statements run on every alert, so they go straight to node-postgres (the pool
 * Prisma's adapter also uses): Prisma's per-query overhead was most of an alert's CPU.
 */
import type pg from 'pg';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { Alert } from '../../lib/contracts/alert.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';

export type LedgerOutcome = 'received' | 'delivering' | 'delivered' | 'suppressed' | 'grouped' | 'deferred' | 'failed';

export interface LedgerDeps {
  prisma: PrismaClient;
  /** The shared pool; the hot-path ledger statements use it directly. */
  pg: Pick<pg.Pool, 'query'>;
  logger: Logger;
  metrics: Metrics;
}

export interface LedgerChange {
  outcome: LedgerOutcome;
  reason?: string;
  groupId?: string;
  deferUntil?: Date;
  channel?: string;
  channelType?: string;
  attempts?: number;
  status?: number;
  error?: string;
  deliveredAt?: Date;
}

export interface LedgerContext {
  tenantId: string;
  type?: string;
  severity?: string;
  userId?: string | null;
}

const EVENT: Record<string, string> = {
  suppressed: 'alert_suppressed',
  deferred: 'alert_deferred',
  grouped: 'alert_grouped',
  delivered: 'alert_delivered',
  failed: 'alert_failed',
};

const INSERT_RECEIVED = `INSERT INTO alert_ledger (id, tenant_id, type, severity, title, body, labels, runbook_url, group_key, user_id, occurred_at, received_at, outcome)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'received')
ON CONFLICT (id) DO NOTHING RETURNING outcome, reason`;

/**
 * Insert the alert as received; idempotent: a retried job finds its row (and the
 * outcome an earlier attempt recorded) instead of inserting a second one.
 */
export async function receive(deps: LedgerDeps, alert: Alert, receivedAt: Date): Promise<{ outcome: string; reason: string | null }> {
  const inserted = await deps.pg.query<{ outcome: string; reason: string | null }>(INSERT_RECEIVED, [
    alert.id,
    alert.tenantId,
    alert.type,
    alert.severity,
    alert.title,
    alert.body ?? null,
    alert.labels === undefined ? null : JSON.stringify(alert.labels),
    alert.runbookUrl ?? null,
    alert.groupKey ?? alert.type,
    alert.userId ?? null,
    new Date(alert.occurredAt),
    receivedAt,
  ]);
  if (inserted.rows[0]) return inserted.rows[0];
  // Only on a retry: the row exists, read what it says.
  const existing = await deps.pg.query<{ outcome: string; reason: string | null }>('SELECT outcome, reason FROM alert_ledger WHERE id = $1', [alert.id]);
  return existing.rows[0] ?? { outcome: 'received', reason: null };
}

/** One UPDATE for any change; the time to deliver is computed in SQL from the row's received_at. */
function updateStatement(ids: string[], change: LedgerChange): { text: string; values: unknown[] } {
  const values: unknown[] = [ids];
  const sets: string[] = [];
  const set = (column: string, value: unknown, cast = '') => {
    values.push(value);
    sets.push(`${column} = $${values.length}${cast}`);
  };
  set('outcome', change.outcome);
  if (change.reason !== undefined) set('reason', change.reason);
  if (change.groupId) set('group_id', change.groupId, '::uuid');
  if (change.deferUntil) set('defer_until', change.deferUntil);
  if (change.channel) set('channel', change.channel);
  if (change.attempts !== undefined) set('attempts', change.attempts);
  if (change.status !== undefined) set('last_status', change.status);
  if (change.error !== undefined) set('last_error', change.error.slice(0, 500));
  if (change.deliveredAt) {
    // Stored at the column's millisecond precision, like every other timestamp here.
    set('delivered_at', change.deliveredAt, '::timestamptz(3)');
    sets.push(`delivery_ms = GREATEST(0, (EXTRACT(EPOCH FROM ($${values.length}::timestamptz(3) - received_at)) * 1000)::int)`);
  }
  return { text: `UPDATE alert_ledger SET ${sets.join(', ')} WHERE id = ANY($1::uuid[])`, values };
}

/** Record an outcome for some alerts; logs and counts it once per alert. */
export async function record(deps: LedgerDeps, ids: string[], change: LedgerChange, context: LedgerContext): Promise<void> {
  const { text, values } = updateStatement(ids, change);
  await deps.pg.query(text, values);
  const event = EVENT[change.outcome];
  if (!event) return;
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
