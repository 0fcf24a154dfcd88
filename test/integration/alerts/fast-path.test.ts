// The inline fast path of a `deliver` decision, end to end against a recording receiver:
// a 2xx is delivered by the alert job itself (no alert-delivery job at all); a 500 hands
// over to a queued `deliver` job that continues as attempt 2 on the documented backoff;
// a 429 hands over to a job delayed until Retry-After, spending no attempt. The ledger,
// the log events and bulwark_alerts_total say each outcome exactly once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createProducer, type Producer } from '../../../producers/index.js';
import { verifyWebhookSignature } from '../../../workers/alert/sending/channels/webhook-signature.js';
import { HOOK_SECRET, startAlertHarness, type AlertHarness } from '../../helpers/alert-harness.js';
import { captureLogs, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { replies } from '../../helpers/receiver.js';

const logs = captureLogs();
let h: AlertHarness;
let producer: Producer;

/** A tenant whose one webhook channel posts to the receiver at `path`; returns tenant and channel ids. */
async function tenantWithHook(name: string, path: string): Promise<{ tenantId: string; channelId: string }> {
  const { tenantId, channelIds } = await h.tenantWithHooks(name, [path], { cooldownSeconds: 0 });
  return { tenantId, channelId: channelIds[0]! };
}

const eventsFor = (id: string, event: string) => logs.events().filter((e) => e.event === event && Array.isArray(e.alert_ids) && (e.alert_ids as string[]).includes(id));
const delivered = async () => /bulwark_alerts_total\{outcome="delivered",reason="none",channel="webhook"\} (\d+)/.exec(await h.bulwark.ctx.metrics.registry.metrics())?.[1];

test.before(setup(async () => {
  h = await startAlertHarness({ logs });
  producer = createProducer({ queuePrefix: h.bulwark.ctx.config.queuePrefix });
}));
test.after(cleanup([
  ['close producer', () => producer?.close()],
  ['close harness', () => h?.close()],
]));

test('fast path: a 2xx is delivered by the alert job itself, signed, with no alert-delivery job', async () => {
  const { tenantId, channelId } = await tenantWithHook('fast-ok', '/ok');
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full', labels: { zone: 'b', host: 'db-1' } });
  const row = await waitFor(async () => { const r = await h.rowOf(id); return r?.outcome === 'delivered' ? r : undefined; }, 'the inline delivery');
  assert.equal([row.channel, row.attempts, row.last_status], ['hook-0', 1, 200]);
  assert.ok(row.delivery_ms !== null && row.delivery_ms >= 0);
  assert.is(await h.ctx.deliveries.getJob(`deliver-${id}-${channelId}`), undefined, 'no queued delivery for a first-time success');
  const [hit] = h.requestsAt('/ok');
  assert.ok(verifyWebhookSignature({ secret: HOOK_SECRET, body: hit!.body, headers: hit!.headers }).ok);
  assert.match(hit!.body, 'labels: host=db-1, zone=b');
  assert.is(eventsFor(id, 'alert_delivered').length, 1);
});

test('fast path: a 500 hands over to a queued deliver job that continues as attempt 2 and delivers', async () => {
  const { tenantId, channelId } = await tenantWithHook('fast-500', '/flaky');
  const before = Number((await delivered()) ?? 0);
  h.receiver.next(replies.serverError);
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full' });
  const pending = await waitFor(async () => { const r = await h.rowOf(id); return r?.outcome === 'delivering' && r.last_status === 500 ? r : undefined; }, 'the failed inline attempt recorded');
  assert.equal([pending.attempts, pending.channel], [1, 'hook-0']);
  const job = await waitFor(() => h.ctx.deliveries.getJob(`deliver-${id}-${channelId}`), 'the queued deliver job');
  // The job's limit and backoff are shifted by the inline attempt: 8 attempts, from 2 s, in all.
  assert.equal([job.data.priorAttempts, job.opts.attempts, (job.opts.backoff as { delay: number }).delay], [1, 7, 4000]);
  const row = await waitFor(async () => { const r = await h.rowOf(id); return r?.outcome === 'delivered' ? r : undefined; }, 'the queued delivery', 15_000);
  assert.equal([row.attempts, row.last_status], [2, 200]);
  const hits = h.requestsAt('/flaky');
  assert.is(hits.length, 2);
  const waited = hits[1]!.receivedAt.getTime() - hits[0]!.receivedAt.getTime();
  assert.ok(waited >= 900, `retried after ${waited} ms, before the first backoff (1-2 s with jitter)`);
  assert.is(eventsFor(id, 'alert_delivered').length, 1);
  assert.is(eventsFor(id, 'alert_failed').length, 0);
  assert.is(Number(await delivered()), before + 1);
});

test('fast path: a 429 hands over to a job delayed until Retry-After, spending no attempt', async () => {
  const { tenantId, channelId } = await tenantWithHook('fast-429', '/busy');
  const before = Number((await delivered()) ?? 0);
  h.receiver.next(replies.tooMany('2'));
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full' });
  const paused = await waitFor(async () => { const r = await h.rowOf(id); return r?.outcome === 'delivering' && r.last_status === 429 ? r : undefined; }, 'the 429 recorded');
  assert.match(paused.last_error ?? '', /paused 2000 ms/);
  const job = await waitFor(() => h.ctx.deliveries.getJob(`deliver-${id}-${channelId}`), 'the delayed deliver job');
  assert.equal([job.data.priorAttempts, job.opts.attempts], [undefined, 8]);
  assert.ok((job.opts.delay ?? 0) >= 2000, `delay ${job.opts.delay}`);
  assert.ok(logs.events().some((e) => e.event === 'alert_channel_paused' && e.tenant_id === tenantId && e.retry_after_ms === 2000));
  const row = await waitFor(async () => { const r = await h.rowOf(id); return r?.outcome === 'delivered' ? r : undefined; }, 'the delivery after the pause', 15_000);
  assert.equal([row.attempts, row.last_status], [1, 200]);
  const hits = h.requestsAt('/busy');
  assert.is(hits.length, 2);
  const waited = hits[1]!.receivedAt.getTime() - hits[0]!.receivedAt.getTime();
  assert.ok(waited >= 1900, `sent again after ${waited} ms, before Retry-After`);
  assert.is(eventsFor(id, 'alert_delivered').length, 1);
  assert.is(Number(await delivered()), before + 1);
});

test('fast path: a 404 fails at once as rejected, with its status, and queues nothing', async () => {
  const { tenantId, channelId } = await tenantWithHook('fast-404', '/gone');
  h.receiver.next({ status: 404, body: 'no such hook' });
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full' });
  const row = await waitFor(async () => { const r = await h.rowOf(id); return r?.outcome === 'failed' ? r : undefined; }, 'the rejection');
  assert.equal([row.reason, row.last_status, row.attempts], ['rejected', 404, 1]);
  assert.is(await h.ctx.deliveries.getJob(`deliver-${id}-${channelId}`), undefined);
  assert.is(eventsFor(id, 'alert_failed').length, 1);
  assert.is(h.hitsAt('/gone'), 1);
});

test.run();
