/**
 * The `digest` job: when a tenant's quiet hours end, the alerts they deferred (up to
 * the job's `until`, plus a second for rounding) are sent, one message per channel.
 */
import type { DigestJob } from '../../../lib/contracts/alert-delivery.js';
import type { AlertDeps } from '../deps.js';
import { fanOut } from './fan-out.js';

export async function sendDigest(ctx: AlertDeps, data: DigestJob): Promise<{ sent: number } | { channels: number }> {
  const rows = await ctx.prisma.alertRecord.findMany({ where: { tenantId: data.tenantId, outcome: 'deferred', deferUntil: { lte: new Date(Date.parse(data.until) + 1000) } }, orderBy: { occurredAt: 'asc' } });
  if (rows.length === 0) return { sent: 0 };
  return { channels: await fanOut(ctx, rows, 'digest', `d-${data.tenantId}-${Date.parse(data.until)}`, { parts: true }) };
}
