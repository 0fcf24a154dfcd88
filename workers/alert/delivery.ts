/**
 * alert-delivery processor. `deliver` sends one message to one channel, resolving
 * the channel's secret:// credential at that moment; `group-flush` and `digest` turn
 * grouped or deferred ledger rows into deliveries. Network errors and 5xx retry with
 * exponential backoff and jitter; a 429 pauses the job until Retry-After without
 * spending an attempt; any other 4xx fails at once with its status.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { MasterKeys } from '../../lib/crypto/master-keys.js';
import { alertDeliveryPolicy, deliverJobSchema, digestJobSchema, groupFlushJobSchema, type DeliverJob } from '../../lib/contracts/alert-delivery.js';
import { resolveSecretRef } from '../../lib/secrets.js';
import { sendToChannel } from './channels/send.js';
import type { AlertMessage, ChannelTarget } from './channels/types.js';
import { record } from './ledger.js';
import { fanOut, type AlertContext } from './processor.js';

export interface DeliveryContext extends AlertContext {
  keys: MasterKeys;
  /** Options passed to the channel senders (timeout, Telegram base URL). */
  send?: { timeoutMs?: number; telegramBaseUrl?: string };
}

type Row = Awaited<ReturnType<AlertContext['prisma']['alertRecord']['findMany']>>[number];

export function messageFor(tenantId: string, kind: DeliverJob['kind'], rows: Row[]): AlertMessage {
  const first = rows[0]!;
  const items = rows.map((r) => ({ title: r.title, occurredAt: r.occurredAt.toISOString() }));
  const rank = ['info', 'warning', 'high', 'critical'];
  const severity = rows.reduce((s, r) => (rank.indexOf(r.severity) > rank.indexOf(s) ? r.severity : s), first.severity);
  if (kind === 'single') {
    const labels = first.labels && typeof first.labels === 'object' ? Object.entries(first.labels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(', ') : '';
    return { tenantId, alertIds: [first.id], title: first.title, text: [first.body, labels && `labels: ${labels}`].filter(Boolean).join('\n'), severity, runbookUrl: first.runbookUrl ?? undefined };
  }
  const title = kind === 'group' ? `${rows.length} alerts: ${first.groupKey}` : `Digest: ${rows.length} alerts held during quiet hours`;
  return { tenantId, alertIds: rows.map((r) => r.id), title, text: items.map((i) => `• ${i.title} (${i.occurredAt})`).join('\n'), severity, runbookUrl: rows.find((r) => r.runbookUrl)?.runbookUrl ?? undefined, items };
}

/** Per-channel semaphore: at most perChannelConcurrency sends in flight, waiters in order. */
const slots = new Map<string, { busy: number; waiting: Array<() => void> }>();
async function withChannelSlot<T>(channelId: string, fn: () => Promise<T>): Promise<T> {
  let slot = slots.get(channelId);
  if (!slot) slots.set(channelId, (slot = { busy: 0, waiting: [] }));
  const s = slot;
  if (s.busy >= alertDeliveryPolicy.perChannelConcurrency) await new Promise<void>((resolve) => s.waiting.push(resolve));
  else s.busy++;
  try {
    return await fn();
  } finally {
    const next = s.waiting.shift();
    // Hand the slot straight to the next waiter; free it only when nobody waits.
    if (next) next();
    else if (--s.busy === 0) slots.delete(channelId);
  }
}

async function deliver(data: DeliverJob, ctx: DeliveryContext, job: Job, token?: string): Promise<{ status: number }> {
  const channel = await ctx.prisma.alertChannel.findFirst({ where: { id: data.channelId, tenantId: data.tenantId } });
  const rows = await ctx.prisma.alertRecord.findMany({ where: { id: { in: data.alertIds }, tenantId: data.tenantId }, orderBy: { occurredAt: 'asc' } });
  const context = { tenantId: data.tenantId, type: rows[0]?.type, severity: rows[0]?.severity };
  if (!channel || rows.length === 0) {
    await record(ctx, data.alertIds, { outcome: 'failed', reason: 'channel_removed' }, context);
    throw new UnrecoverableError(`channel ${data.channelId} or its alerts no longer exist`);
  }
  const attempts = job.attemptsMade + 1;
  let credential: string;
  try {
    credential = await resolveSecretRef(ctx.prisma, ctx.keys, data.tenantId, channel.secretRef);
  } catch (err) {
    await record(ctx, data.alertIds, { outcome: 'failed', reason: 'credential', channel: channel.name, channelType: channel.type, attempts, error: (err as Error).message }, context);
    throw new UnrecoverableError(`channel ${channel.name}: ${(err as Error).message}`);
  }
  const target: ChannelTarget = { type: channel.type as ChannelTarget['type'], url: channel.target, chatId: channel.target };
  const result = await withChannelSlot(channel.id, () => sendToChannel(target, credential, messageFor(data.tenantId, data.kind, rows), { ...ctx.send, now: ctx.clock }));
  const base = { channel: channel.name, channelType: channel.type, attempts };
  if (result.ok) {
    await record(ctx, data.alertIds, { outcome: 'delivered', ...base, status: result.status, deliveredAt: ctx.clock() }, context);
    return { status: result.status };
  }
  if (result.retryable && result.retryAfterMs !== undefined && token) {
    // The receiver asked us to slow down: wait as told, without spending an attempt.
    await record(ctx, data.alertIds, { outcome: 'delivering', ...base, status: result.status, error: `paused ${result.retryAfterMs} ms (429)` }, context);
    ctx.logger.warn({ event: 'alert_channel_paused', tenant_id: data.tenantId, channel: channel.name, retry_after_ms: result.retryAfterMs }, 'channel asked to slow down');
    await job.moveToDelayed(Date.now() + result.retryAfterMs, token);
    throw new DelayedError();
  }
  const final = !result.retryable || attempts >= (job.opts.attempts ?? 1);
  await record(ctx, data.alertIds, { outcome: final ? 'failed' : 'delivering', ...(final ? { reason: result.retryable ? 'retries_exhausted' : 'rejected' } : {}), ...base, status: result.status, error: result.error }, context);
  if (!result.retryable) throw new UnrecoverableError(`channel ${channel.name} refused the message (${result.status ?? 'no status'}): ${result.error}`);
  throw new Error(`channel ${channel.name}: ${result.error}`);
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
    const rows = await ctx.prisma.alertRecord.findMany({ where: { tenantId: parsed.data.tenantId, groupId: parsed.data.groupId, outcome: 'grouped' }, orderBy: { occurredAt: 'asc' } });
    if (rows.length === 0) return { sent: 0 };
    return { channels: await fanOut(ctx, rows, rows.length === 1 ? 'single' : 'group', `g-${parsed.data.groupId}`) };
  }
  if (job.name === 'digest') {
    const parsed = digestJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError('invalid digest payload');
    const rows = await ctx.prisma.alertRecord.findMany({ where: { tenantId: parsed.data.tenantId, outcome: 'deferred', deferUntil: { lte: new Date(Date.parse(parsed.data.until) + 1000) } }, orderBy: { occurredAt: 'asc' } });
    if (rows.length === 0) return { sent: 0 };
    return { channels: await fanOut(ctx, rows, 'digest', `d-${parsed.data.tenantId}-${Date.parse(parsed.data.until)}`) };
  }
  throw new UnrecoverableError(`unknown alert-delivery job "${job.name}"`);
}
