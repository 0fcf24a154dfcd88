// The inline fast path of a `deliver` decision, end to end against a recording receiver:
// a 2xx is delivered by the alert job itself (no alert-delivery job at all); a 500 hands
// over to a queued `deliver` job that continues as attempt 2 on the documented backoff;
// a 429 hands over to a job delayed until Retry-After, spending no attempt. The ledger,
// the log events and bulwark_alerts_total say each outcome exactly once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { addChannel } from '../../lib/channels.js';
import { requireMasterKeys } from '../../lib/config.js';
import { ALERT_DELIVERY_QUEUE } from '../../lib/contracts/alert-delivery.js';
import { setSecret } from '../../lib/secrets.js';
import { createTenant } from '../../lib/tenants.js';
import { updateTenantSettings } from '../../lib/tenant-settings.js';
import { createProducer, type Producer } from '../../producers/index.js';
import { verifyWebhookSignature } from '../../workers/alert/channels/webhook-signature.js';
import { startBulwark, type RunningBulwark } from '../../workers/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../helpers/env.js';
import { obliterateQueues } from '../helpers/queues.js';
import { replies, startReceiver, type Receiver } from '../helpers/receiver.js';

const SECRET = 'whsec-Fast-Path-Signing-Key-42';
const system = { type: 'system' as const, id: 'test' };
const logs = captureLogs();
let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let receiver: Receiver;
let deliveries: Queue;

/** A tenant whose one webhook channel posts to the receiver at `path`; returns tenant and channel ids. */
async function tenantWithHook(name: string, path: string): Promise<{ tenantId: string; channelId: string }> {
  const t = await createTenant(bulwark.ctx.prisma, { name });
  await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { maxPerWindow: 100, cooldownSeconds: 0, userThrottle: { limit: 0 } } }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'hook', value: SECRET }, system);
  await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: 'hook', type: 'webhook', target: `${receiver.url}${path}`, secretRef: 'secret://hook' }, system);
  const channel = await bulwark.ctx.prisma.alertChannel.findFirstOrThrow({ where: { tenantId: t.id } });
  return { tenantId: t.id, channelId: channel.id };
}

type LedgerRow = { outcome: string; reason: string | null; channel: string | null; attempts: number; last_status: number | null; last_error: string | null; delivery_ms: number | null };
const ledgerRow = async (id: string): Promise<LedgerRow | undefined> =>
  (await superuserQuery(db.url, 'SELECT outcome, reason, channel, attempts, last_status, last_error, delivery_ms FROM alert_ledger WHERE id = $1', [id])).rows[0] as LedgerRow | undefined;
const hitsAt = (path: string) => receiver.requests.filter((r) => r.path === path);
const eventsFor = (id: string, event: string) => logs.events().filter((e) => e.event === event && Array.isArray(e.alert_ids) && (e.alert_ids as string[]).includes(id));
const delivered = async () => /bulwark_alerts_total\{outcome="delivered",reason="none",channel="webhook"\} (\d+)/.exec(await bulwark.ctx.metrics.registry.metrics())?.[1];

test.before(async () => {
  receiver = await startReceiver();
  db = await createTestDatabase();
  bulwark = await startBulwark(testConfig(db.url, { SETTINGS_CACHE_MS: '0', LOG_LEVEL: 'info' }), { http: false, scheduler: false, logDestination: logs.stream });
  producer = createProducer({ queuePrefix: bulwark.ctx.config.queuePrefix });
  deliveries = new Queue(ALERT_DELIVERY_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
});
test.after(async () => {
  await deliveries.close();
  await producer.close();
  await bulwark.stop();
  await obliterateQueues(bulwark.ctx.config.queuePrefix);
  await db.drop();
  await receiver.close();
});

test('fast path: a 2xx is delivered by the alert job itself, signed, with no alert-delivery job', async () => {
  const { tenantId, channelId } = await tenantWithHook('fast-ok', '/ok');
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full', labels: { zone: 'b', host: 'db-1' } });
  const row = await waitFor(async () => { const r = await ledgerRow(id); return r?.outcome === 'delivered' ? r : undefined; }, 'the inline delivery');
  assert.equal([row.channel, row.attempts, row.last_status], ['hook', 1, 200]);
  assert.ok(row.delivery_ms !== null && row.delivery_ms >= 0);
  assert.is(await deliveries.getJob(`deliver-${id}-${channelId}`), undefined, 'no queued delivery for a first-time success');
  const [hit] = hitsAt('/ok');
  assert.ok(verifyWebhookSignature({ secret: SECRET, body: hit!.body, headers: hit!.headers }).ok);
  assert.match(hit!.body, 'labels: host=db-1, zone=b');
  assert.is(eventsFor(id, 'alert_delivered').length, 1);
});

test('fast path: a 500 hands over to a queued deliver job that continues as attempt 2 and delivers', async () => {
  const { tenantId, channelId } = await tenantWithHook('fast-500', '/flaky');
  const before = Number((await delivered()) ?? 0);
  receiver.next(replies.serverError);
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full' });
  const pending = await waitFor(async () => { const r = await ledgerRow(id); return r?.outcome === 'delivering' && r.last_status === 500 ? r : undefined; }, 'the failed inline attempt recorded');
  assert.equal([pending.attempts, pending.channel], [1, 'hook']);
  const job = await waitFor(() => deliveries.getJob(`deliver-${id}-${channelId}`), 'the queued deliver job');
  // The job's limit and backoff are shifted by the inline attempt: 8 attempts, from 2 s, in all.
  assert.equal([job.data.priorAttempts, job.opts.attempts, (job.opts.backoff as { delay: number }).delay], [1, 7, 4000]);
  const row = await waitFor(async () => { const r = await ledgerRow(id); return r?.outcome === 'delivered' ? r : undefined; }, 'the queued delivery', 15_000);
  assert.equal([row.attempts, row.last_status], [2, 200]);
  const hits = hitsAt('/flaky');
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
  receiver.next(replies.tooMany('2'));
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full' });
  const paused = await waitFor(async () => { const r = await ledgerRow(id); return r?.outcome === 'delivering' && r.last_status === 429 ? r : undefined; }, 'the 429 recorded');
  assert.match(paused.last_error ?? '', /paused 2000 ms/);
  const job = await waitFor(() => deliveries.getJob(`deliver-${id}-${channelId}`), 'the delayed deliver job');
  assert.equal([job.data.priorAttempts, job.opts.attempts], [undefined, 8]);
  assert.ok((job.opts.delay ?? 0) >= 2000, `delay ${job.opts.delay}`);
  assert.ok(logs.events().some((e) => e.event === 'alert_channel_paused' && e.tenant_id === tenantId && e.retry_after_ms === 2000));
  const row = await waitFor(async () => { const r = await ledgerRow(id); return r?.outcome === 'delivered' ? r : undefined; }, 'the delivery after the pause', 15_000);
  assert.equal([row.attempts, row.last_status], [1, 200]);
  const hits = hitsAt('/busy');
  assert.is(hits.length, 2);
  const waited = hits[1]!.receivedAt.getTime() - hits[0]!.receivedAt.getTime();
  assert.ok(waited >= 1900, `sent again after ${waited} ms, before Retry-After`);
  assert.is(eventsFor(id, 'alert_delivered').length, 1);
  assert.is(Number(await delivered()), before + 1);
});

test('fast path: a 404 fails at once as rejected, with its status, and queues nothing', async () => {
  const { tenantId, channelId } = await tenantWithHook('fast-404', '/gone');
  receiver.next({ status: 404, body: 'no such hook' });
  const { alertId: id } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full' });
  const row = await waitFor(async () => { const r = await ledgerRow(id); return r?.outcome === 'failed' ? r : undefined; }, 'the rejection');
  assert.equal([row.reason, row.last_status, row.attempts], ['rejected', 404, 1]);
  assert.is(await deliveries.getJob(`deliver-${id}-${channelId}`), undefined);
  assert.is(eventsFor(id, 'alert_failed').length, 1);
  assert.is(hitsAt('/gone').length, 1);
});

test.run();
