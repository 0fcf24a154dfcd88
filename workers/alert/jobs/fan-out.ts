/**
 * Sending decided alerts to their channels. Each channel gets the alerts whose severity
 * it takes, and only those: a digest or group holds alerts of several severities, and
 * a channel routed only `high` and `critical` must not receive the `info` ones with
 * them, nor an `info`-only channel miss its own. With `inline` the one alert is sent by
 * the calling job (fast-path.ts); otherwise each channel's alerts get queued `deliver`
 * jobs, in parts of at most DELIVER_MAX_ALERTS.
 */
import type { Alert } from '../../../lib/contracts/alert.js';
import type { ChannelRow } from '../stores/channels.js';
import { deliveryParts, enqueueDeliveries } from './deliver-jobs.js';
import type { AlertDeps } from '../deps.js';
import { deliverInline } from '../sending/fast-path.js';
import { record } from '../stores/ledger.js';
import { highestSeverity } from '../sending/message.js';

export type Sendable = Pick<Alert, 'id' | 'tenantId' | 'type'> & { severity: string };

export interface FanOutOptions {
  /** The channels to use for every alert (already chosen: the receipt's, or a re-run's remaining ones). */
  channels?: ChannelRow[];
  /** Send this one alert from the calling job; `paused`: its channels' pauses, read with the decision. */
  inline?: { alert: Alert; paused: Map<string, number> };
  /** `key` is a flush's or digest's base: each part of at most DELIVER_MAX_ALERTS alerts gets a key naming its alerts. */
  parts?: boolean;
}

/** Each channel with the alerts it takes, in the alerts' order. */
async function routes(ctx: AlertDeps, alerts: Sendable[], given?: ChannelRow[]): Promise<Array<{ channel: ChannelRow; alerts: Sendable[] }>> {
  if (given) return given.map((channel) => ({ channel, alerts }));
  const severities = [...new Set(alerts.map((a) => a.severity))];
  const bySeverity = new Map(await Promise.all(severities.map(async (s) => [s, await ctx.channelsFor(alerts[0]!.tenantId, s)] as const)));
  const routed = new Map<string, { channel: ChannelRow; alerts: Sendable[] }>();
  for (const a of alerts) {
    for (const c of bySeverity.get(a.severity) ?? []) {
      const r = routed.get(c.id) ?? { channel: c, alerts: [] };
      r.alerts.push(a);
      routed.set(c.id, r);
    }
  }
  return [...routed.values()];
}

/** Returns how many channels were sent to. Alerts no channel takes fail visibly (`no_channel`). */
export async function fanOut(ctx: AlertDeps, alerts: Sendable[], kind: 'single' | 'group' | 'digest', key: string, options: FanOutOptions = {}): Promise<number> {
  const first = alerts[0]!;
  const routed = await routes(ctx, alerts, options.channels);
  const reached = new Set(routed.flatMap((r) => r.alerts.map((a) => a.id)));
  const unrouted = alerts.filter((a) => !reached.has(a.id));
  if (unrouted.length > 0) {
    await record(ctx, unrouted.map((a) => a.id), { outcome: 'failed', reason: 'no_channel' }, { tenantId: first.tenantId, type: first.type, severity: highestSeverity(unrouted.map((a) => a.severity)) });
  }
  if (routed.length === 0) return 0;
  if (options.inline) {
    await deliverInline(ctx, options.inline.alert, routed.map((r) => r.channel), options.inline.paused);
    return routed.length;
  }
  // One job per channel and part; channels given the same alerts share their parts
  // (and so one ledger write per part, as with a single alert).
  const parts = new Map<string, { ids: string[]; key: string; channels: ChannelRow[] }>();
  for (const r of routed) {
    const ids = r.alerts.map((a) => a.id);
    for (const p of options.parts ? deliveryParts(ids, key) : [{ ids, key }]) {
      const shared = parts.get(p.key) ?? { ...p, channels: [] };
      shared.channels.push(r.channel);
      parts.set(p.key, shared);
    }
  }
  // Queued first, recorded second: a crash in between leaves the rows as they were, so
  // the job run again finds and queues them again (the job ids make that one job each).
  // Recorded the other way round, the re-run would find nothing left to send.
  await enqueueDeliveries(ctx.deliveries, [...parts.values()].flatMap((p) => p.channels.map((c) => ({ tenantId: first.tenantId, channelId: c.id, kind, alertIds: p.ids, key: p.key }))));
  // Each part's rows keep its jobs' key: the sweep finds a lost job by it.
  for (const p of parts.values()) await record(ctx, p.ids, { outcome: 'delivering', pendingChannels: p.channels, jobKey: p.key }, { tenantId: first.tenantId });
  return routed.length;
}
