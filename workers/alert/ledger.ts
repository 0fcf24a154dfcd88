/**
 * The alert ledger: one row per alert, holding the decision (outcome, reason) and,
 * once sent, the delivery (channel, attempts, status, time to deliver). Every change
 * is also a structured log event and a count in bulwark_alerts_total, so nothing is
 * dropped without a trace.
 */
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { Alert } from '../../lib/contracts/alert.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';

export type LedgerOutcome = 'received' | 'delivering' | 'delivered' | 'suppressed' | 'grouped' | 'deferred' | 'failed';

export interface LedgerDeps {
  prisma: PrismaClient;
  logger: Logger;
  metrics: Metrics;
}

const EVENT: Record<string, string> = {
  suppressed: 'alert_suppressed',
  deferred: 'alert_deferred',
  grouped: 'alert_grouped',
  delivered: 'alert_delivered',
  failed: 'alert_failed',
};

/** Insert the alert as received (idempotent: a retried job finds its row). */
export async function receive(deps: LedgerDeps, alert: Alert, receivedAt: Date) {
  const existing = await deps.prisma.alertRecord.findUnique({ where: { id: alert.id } });
  if (existing) return existing;
  return deps.prisma.alertRecord.create({
    data: {
      id: alert.id,
      tenantId: alert.tenantId,
      type: alert.type,
      severity: alert.severity,
      title: alert.title,
      body: alert.body ?? null,
      labels: alert.labels ?? undefined,
      runbookUrl: alert.runbookUrl ?? null,
      groupKey: alert.groupKey ?? alert.type,
      userId: alert.userId ?? null,
      occurredAt: new Date(alert.occurredAt),
      receivedAt,
      outcome: 'received',
    },
  });
}

/** Record an outcome for some alerts; logs and counts it once per alert. */
export async function record(
  deps: LedgerDeps,
  ids: string[],
  change: { outcome: LedgerOutcome; reason?: string; groupId?: string; deferUntil?: Date; channel?: string; channelType?: string; attempts?: number; status?: number; error?: string; deliveredAt?: Date },
  context: { tenantId: string; type?: string; severity?: string; userId?: string | null },
): Promise<void> {
  await deps.prisma.alertRecord.updateMany({
    where: { id: { in: ids } },
    data: {
      outcome: change.outcome,
      ...(change.reason !== undefined ? { reason: change.reason } : {}),
      ...(change.groupId ? { groupId: change.groupId } : {}),
      ...(change.deferUntil ? { deferUntil: change.deferUntil } : {}),
      ...(change.channel ? { channel: change.channel } : {}),
      ...(change.attempts !== undefined ? { attempts: change.attempts } : {}),
      ...(change.status !== undefined ? { lastStatus: change.status } : {}),
      ...(change.error !== undefined ? { lastError: change.error.slice(0, 500) } : {}),
      ...(change.deliveredAt ? { deliveredAt: change.deliveredAt } : {}),
    },
  });
  if (change.deliveredAt) {
    // Time to deliver, measured from when Bulwark received each alert.
    await deps.prisma.$executeRawUnsafe(
      `UPDATE alert_ledger SET delivery_ms = GREATEST(0, (EXTRACT(EPOCH FROM (delivered_at - received_at)) * 1000)::int) WHERE id = ANY($1::uuid[])`,
      ids,
    );
  }
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
