/**
 * alert processor: one decision per alert (lib/alerts/decide.ts, one Redis script),
 * recorded in the ledger, then the follow-up jobs: a delivery per matching channel,
 * a group flush when a group opens, a digest when quiet hours defer.
 */
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { policyFromSettings, type AlertDecider } from '../../lib/alerts/decide.js';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import { alertJobSchema, type Alert } from '../../lib/contracts/alert.js';
import { alertDeliveryPolicy } from '../../lib/contracts/alert-delivery.js';
import { NotFoundError, problemsFromZod } from '../../lib/errors.js';
import type { TenantSettings } from '../../lib/settings.js';
import { receive, record, type LedgerDeps } from './ledger.js';

export interface AlertContext extends LedgerDeps {
  decider: AlertDecider;
  deliveries: Queue;
  settingsOf: (tenantId: string) => Promise<TenantSettings>;
  timezoneOf: (tenantId: string) => Promise<string>;
  clock: () => Date;
}

const jobOpts = { attempts: alertDeliveryPolicy.attempts, backoff: { ...alertDeliveryPolicy.backoff, jitter: alertDeliveryPolicy.backoffJitter }, removeOnComplete: alertDeliveryPolicy.removeOnComplete, removeOnFail: alertDeliveryPolicy.removeOnFail };

/** Channels that take this severity. */
export async function channelsFor(prisma: PrismaClient, tenantId: string, severity: string) {
  return prisma.alertChannel.findMany({ where: { tenantId, enabled: true, severities: { has: severity } }, orderBy: { name: 'asc' } });
}

/** Queue one delivery per channel; with no channel the alerts fail visibly. */
export async function fanOut(ctx: AlertContext, alerts: Array<Pick<Alert, 'id' | 'tenantId' | 'type'> & { severity: string }>, kind: 'single' | 'group' | 'digest', key: string): Promise<number> {
  const first = alerts[0]!;
  const rank = ['info', 'warning', 'high', 'critical'];
  const severity = alerts.reduce((s, a) => (rank.indexOf(a.severity) > rank.indexOf(s) ? a.severity : s), first.severity);
  const channels = await channelsFor(ctx.prisma, first.tenantId, severity);
  const ids = alerts.map((a) => a.id);
  if (channels.length === 0) {
    await record(ctx, ids, { outcome: 'failed', reason: 'no_channel' }, { tenantId: first.tenantId, type: first.type, severity });
    return 0;
  }
  await record(ctx, ids, { outcome: 'delivering' }, { tenantId: first.tenantId });
  await ctx.deliveries.addBulk(
    channels.map((c) => ({
      name: 'deliver',
      data: { v: 1, tenantId: first.tenantId, channelId: c.id, kind, alertIds: ids },
      opts: { ...jobOpts, jobId: `deliver-${key}-${c.id}` },
    })),
  );
  return channels.length;
}

export async function processAlert(data: unknown, ctx: AlertContext, job?: Pick<Job, 'id'>): Promise<{ outcome: string; reason?: string }> {
  const parsed = alertJobSchema.safeParse(data);
  if (!parsed.success) {
    throw new UnrecoverableError(`invalid alert payload: ${problemsFromZod(parsed.error.issues).map((p) => `${p.path}: ${p.message}`).slice(0, 10).join('; ')}`);
  }
  const alert = parsed.data.alert;
  let settings: TenantSettings;
  let timezone: string;
  try {
    [settings, timezone] = await Promise.all([ctx.settingsOf(alert.tenantId), ctx.timezoneOf(alert.tenantId)]);
  } catch (err) {
    if (err instanceof NotFoundError) throw new UnrecoverableError(`unknown tenant ${alert.tenantId}`);
    throw err;
  }
  const row = await receive(ctx, alert, ctx.clock());
  if (row.outcome !== 'received') return { outcome: row.outcome, reason: row.reason ?? undefined }; // decided by an earlier attempt
  const policy = policyFromSettings({ ...settings.alerts, quietHours: { ...settings.alerts.quietHours, timezone } });
  const decision = await ctx.decider.decide(
    { tenantId: alert.tenantId, alertId: alert.id, type: alert.type, severity: alert.severity, groupKey: alert.groupKey, userId: alert.userId, dedupeKey: alert.source?.auditEventId },
    policy,
  );
  const context = { tenantId: alert.tenantId, type: alert.type, severity: alert.severity, userId: alert.userId };
  // A retry after a crash between deciding and recording sees its own earlier decision
  // as a duplicate; delivering is the choice that loses nothing.
  const selfDuplicate = decision.outcome === 'suppress' && decision.reason === 'duplicate' && decision.duplicateOf === alert.id;
  if (decision.outcome === 'deliver' || selfDuplicate) {
    await fanOut(ctx, [alert], 'single', alert.id);
    return { outcome: 'deliver' };
  }
  if (decision.outcome === 'suppress') {
    await record(ctx, [alert.id], { outcome: 'suppressed', reason: decision.reason }, context);
    return { outcome: 'suppressed', reason: decision.reason };
  }
  if (decision.outcome === 'defer') {
    const until = decision.deferUntil!;
    await record(ctx, [alert.id], { outcome: 'deferred', reason: 'quiet_hours', deferUntil: until }, context);
    await ctx.deliveries.add('digest', { v: 1, tenantId: alert.tenantId, until: until.toISOString() }, { ...jobOpts, delay: Math.max(0, until.getTime() - ctx.clock().getTime()), jobId: `digest-${alert.tenantId}-${until.getTime()}` });
    return { outcome: 'deferred', reason: 'quiet_hours' };
  }
  const group = decision.group!;
  await record(ctx, [alert.id], { outcome: 'grouped', reason: group.opened ? 'group_opened' : 'grouped', groupId: group.id }, context);
  if (group.opened) {
    // Members may join until flushAt; flush just after it.
    await ctx.deliveries.add('group-flush', { v: 1, tenantId: alert.tenantId, groupId: group.id }, { ...jobOpts, delay: Math.max(0, group.flushAt.getTime() - ctx.clock().getTime() + 250), jobId: `group-${group.id}` });
  }
  void job;
  return { outcome: 'grouped' };
}
