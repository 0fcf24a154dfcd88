/**
 * The fast path of a `deliver` decision: the alert job sends to each channel itself,
 * right away, instead of queuing a `deliver` job per channel (which cost a second job,
 * and with it a second round of reads, per alert). It takes the same per-channel slots
 * as the delivery worker, and hands over to a queued `deliver` job whenever the
 * documented retry semantics need the queue:
 *   - 429: a job delayed until Retry-After, with no attempt spent, and the channel
 *     paused until then (pause.ts): a paused channel is not sent to at all,
 *     each alert for it goes straight to a job delayed until the pause ends;
 *   - network error or 5xx: a job that continues as attempt 2, after the first backoff;
 *   - no slot of the channel free within inlineSlotWaitMs: a job, no attempt spent,
 *     so a slow receiver cannot keep alert jobs (and other tenants' decisions) waiting.
 * Any other 4xx fails at once (`rejected`, with its status), as a queued send would.
 */
import { alertDeliveryPolicy } from '../../../lib/contracts/alert-delivery.js';
import type { Alert } from '../../../lib/contracts/alert.js';
import type { AlertDeps } from '../deps.js';
import { attemptDelivery } from './attempt.js';
import type { ChannelRow } from '../stores/channels.js';
import { backoffDelay, enqueueDeliveries, type DeliverRequest } from '../jobs/deliver-jobs.js';
import { record } from '../stores/ledger.js';
import { messageFor, type MessageRow } from './message.js';

/** What the ledger row holds, built from the job's alert without reading the row back. */
function asRow(alert: Alert): MessageRow {
  return {
    id: alert.id,
    type: alert.type,
    title: alert.title,
    body: alert.body ?? null,
    labels: alert.labels ?? null,
    runbookUrl: alert.runbookUrl ?? null,
    severity: alert.severity,
    groupKey: alert.groupKey ?? alert.type,
    occurredAt: new Date(alert.occurredAt),
  };
}

/**
 * Send one alert to its channels now; queue a `deliver` job for each channel that needs
 * one. `paused`: the channels' pauses, read with the decision (ChannelPauses.fromTtls).
 */
export async function deliverInline(ctx: AlertDeps, alert: Alert, channels: ChannelRow[], paused: Map<string, number>): Promise<void> {
  const message = messageFor(alert.tenantId, 'single', [asRow(alert)]);
  const context = { tenantId: alert.tenantId, type: alert.type, severity: alert.severity, userId: alert.userId };
  // With several channels the row waits for all of them: one channel's result must not
  // settle the alert while another's send is still to come (a single channel's result
  // is the whole answer, and the hot path is spared a statement).
  if (channels.length > 1) await record(ctx, [alert.id], { outcome: 'delivering', pendingChannels: channels }, context);
  const sends = await Promise.allSettled(
    channels.map(async (channel) => {
      const request: DeliverRequest = { tenantId: alert.tenantId, channelId: channel.id, kind: 'single', alertIds: [alert.id], key: alert.id };
      // Every hand-over is queued before the channel's row says `delivering`: a crash in
      // between leaves that row missing or `delivering` (with several channels, written
      // before the sends), and the retried alert job queues the send again
      // (same job id: one job) instead of finding a row that waits for nothing.
      const handOver = (extra: Partial<DeliverRequest>) => enqueueDeliveries(ctx.deliveries, [{ ...request, ...extra }]);
      const channelRef = { channelId: channel.id, channel: channel.name, channelType: channel.type };
      const pausedUntil = paused.get(channel.id);
      if (pausedUntil !== undefined) {
        // A receiver asked the channel to slow down: wait for the end of the pause, no attempt spent.
        await handOver({ delayMs: pausedUntil - ctx.clock().getTime() });
        await record(ctx, [alert.id], { outcome: 'delivering', ...channelRef, error: `channel paused until ${new Date(pausedUntil).toISOString()} (429)` }, context);
        return;
      }
      const releaseSlot = await ctx.slots.acquire(channel.id, { waitMs: alertDeliveryPolicy.inlineSlotWaitMs });
      if (!releaseSlot) {
        await handOver({});
        await record(ctx, [alert.id], { outcome: 'delivering', ...channelRef }, context);
        return;
      }
      await attemptDelivery(ctx, {
        tenantId: alert.tenantId,
        channel,
        alertIds: [alert.id],
        message,
        context,
        attempts: 1,
        lastAttempt: false,
        canPause: true,
        releaseSlot,
        handOver: (next) => handOver(next.kind === 'paused' ? { delayMs: next.retryAfterMs } : { priorAttempts: 1, delayMs: backoffDelay(1) }),
      });
    }),
  );
  const failed = sends.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
