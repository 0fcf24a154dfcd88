// Alerts end to end: producer → decision in Redis → ledger in Postgres → delivery to
// a real webhook receiver on loopback, signed; limits, 429 pauses, rejections,
// grouping, live policy changes, and no credential anywhere it should not be.
import { test } from 'uvu';
import { Queue } from 'bullmq';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import * as assert from 'uvu/assert';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { verifyWebhookSignature } from '../../../workers/alert/sending/channels/webhook-signature.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { dumpRedis, obliterateQueues } from '../../helpers/queues.js';

const SIGNING_SECRET = 'whsec-Very-Secret-Signing-Key-1';
let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let server: Server;
let hookUrl: string;
const received: Array<{ headers: IncomingMessage['headers']; body: string; path: string; at: number }> = [];
/** Answers queued per path; empty means 200. */
const script = new Map<string, Array<{ status: number; headers?: Record<string, string> }>>();
const logs = captureLogs();
const system = { type: 'system' as const, id: 'test' };

async function tenantWithHook(name: string, path: string, alerts: Record<string, unknown>): Promise<string> {
  const t = await createTenant(bulwark.ctx.prisma, { name });
  await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { userThrottle: { limit: 0 }, ...alerts } }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'hook', value: SIGNING_SECRET }, system);
  await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: 'hook', type: 'webhook', target: `${hookUrl}${path}`, secretRef: 'secret://hook' }, system, LOOPBACK_TARGETS);
  return t.id;
}
const ledger = async (tenantId: string) =>
  (await superuserQuery(db.url, 'SELECT outcome, reason, channel, attempts, last_status, delivery_ms FROM alert_ledger WHERE tenant_id = $1', [tenantId])).rows;
const alert = (tenantId: string, extra: Record<string, unknown> = {}) => ({ tenantId, type: 'disk.full', severity: 'warning' as const, title: 'Disk almost full', runbookUrl: 'https://runbooks.example/disk', ...extra });

test.before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body, path: req.url ?? '', at: Date.now() });
      const next = script.get(req.url ?? '')?.shift() ?? { status: 200 };
      res.writeHead(next.status, next.headers).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  db = await createTestDatabase();
  // SETTINGS_CACHE_MS at a full minute: the alert worker must not depend on it (policy is read per alert).
  bulwark = await startBulwark(testConfig(db.url, { SETTINGS_CACHE_MS: '60000', LOG_LEVEL: 'info' }), { http: false, scheduler: false, logDestination: logs.stream });
  producer = createProducer({ queuePrefix: bulwark.ctx.config.queuePrefix });
});
test.after(async () => {
  await producer.close();
  await bulwark.stop();
  await obliterateQueues(bulwark.ctx.config.queuePrefix);
  await db.drop();
  await new Promise((r) => server.close(r));
});

test('a burst of 100 alerts of one type with a limit of 5: 5 deliveries and 95 ledger rows with reasons', async () => {
  const tenant = await tenantWithHook('burst', '/burst', { maxPerWindow: 5, cooldownSeconds: 0 });
  await Promise.all(Array.from({ length: 100 }, () => producer.alert.send(alert(tenant))));
  const rows = await waitFor(async () => {
    const r = await ledger(tenant);
    return r.length === 100 && r.filter((x) => x.outcome === 'delivered').length === 5 && r.every((x) => x.outcome !== 'received' && x.outcome !== 'delivering') ? r : undefined;
  }, '100 decided alerts, 5 delivered');
  const reasons = rows.reduce<Record<string, number>>((m, r) => ((m[`${r.outcome}:${r.reason}`] = (m[`${r.outcome}:${r.reason}`] ?? 0) + 1), m), {});
  assert.is(rows.filter((r) => r.outcome === 'suppressed' && r.reason === 'rate_limited').length, 95, JSON.stringify(reasons));
  assert.is(received.filter((r) => r.path === '/burst').length, 5);
  const d = rows.find((r) => r.outcome === 'delivered')!;
  assert.equal([d.channel, d.attempts, d.last_status], ['hook', 1, 200]);
  assert.ok(d.delivery_ms >= 0);
  assert.ok(logs.events().filter((e) => e.event === 'alert_suppressed' && e.reason === 'rate_limited').length === 95);
  const metrics = await bulwark.ctx.metrics.registry.metrics();
  assert.match(metrics, 'bulwark_alerts_total{outcome="suppressed",reason="rate_limited",channel="none"} 95');
  assert.match(metrics, 'bulwark_alerts_total{outcome="delivered",reason="none",channel="webhook"} 5');
});

test('the webhook is signed and the signature verifies; a tampered body does not', async () => {
  const hit = received.find((r) => r.path === '/burst')!;
  const ok = verifyWebhookSignature({ secret: SIGNING_SECRET, body: hit.body, headers: hit.headers as Record<string, string> });
  assert.ok(ok.ok, JSON.stringify(ok));
  const bad = verifyWebhookSignature({ secret: SIGNING_SECRET, body: hit.body.replace('Disk', 'Dusk'), headers: hit.headers as Record<string, string> });
  assert.not.ok(bad.ok);
  assert.match(hit.body, 'https://runbooks.example/disk', 'the runbook link travels with the alert');
});

test('a 429 pauses the delivery until Retry-After, then it lands; a 400 fails at once with its status', async () => {
  const tenant = await tenantWithHook('slow', '/slow', { maxPerWindow: 100, cooldownSeconds: 0 });
  script.set('/slow', [{ status: 429, headers: { 'retry-after': '1' } }]);
  await producer.alert.send(alert(tenant));
  const [row] = await waitFor(async () => { const r = await ledger(tenant); return r[0]?.outcome === 'delivered' ? r : undefined; }, 'delivery after the pause', 20_000);
  assert.is(row.last_status, 200);
  const slow = received.filter((r) => r.path === '/slow');
  assert.is(slow.length, 2);
  const paused = slow[1]!.at - slow[0]!.at;
  assert.ok(paused >= 900, `the second request came ${paused} ms after the 429, before its Retry-After of 1 s`);
  assert.ok(logs.events().some((e) => e.event === 'alert_channel_paused'));
  const rejecting = await tenantWithHook('rejecting', '/reject', { maxPerWindow: 100, cooldownSeconds: 0 });
  script.set('/reject', [{ status: 400 }]);
  await producer.alert.send(alert(rejecting));
  const [failed] = await waitFor(async () => { const r = await ledger(rejecting); return r[0]?.outcome === 'failed' ? r : undefined; }, 'the rejected delivery');
  assert.equal([failed.reason, failed.last_status, failed.attempts], ['rejected', 400, 1]);
  assert.ok(logs.events().some((e) => e.event === 'alert_failed'));
});

test('alerts with one group key within the group wait go out as one notification', async () => {
  const tenant = await tenantWithHook('grouping', '/group', { maxPerWindow: 100, cooldownSeconds: 0, groupWaitSeconds: 1 });
  for (let i = 0; i < 3; i++) await producer.alert.send(alert(tenant, { title: `Node ${i} down`, groupKey: 'nodes' }));
  await waitFor(async () => (await ledger(tenant)).filter((r) => r.outcome === 'delivered').length === 3, 'the group delivered', 20_000);
  const posts = received.filter((r) => r.path === '/group');
  assert.is(posts.length, 1);
  for (let i = 0; i < 3; i++) assert.match(posts[0]!.body, `Node ${i} down`);
});

test('a policy change applies to the next alert without a restart', async () => {
  const tenant = await tenantWithHook('live-policy', '/live', { maxPerWindow: 100, cooldownSeconds: 3600 });
  await producer.alert.send(alert(tenant));
  await producer.alert.send(alert(tenant));
  await waitFor(async () => (await ledger(tenant)).length === 2 && (await ledger(tenant)).every((r) => r.outcome !== 'received' && r.outcome !== 'delivering'), 'two decisions');
  assert.equal((await ledger(tenant)).map((r) => r.reason).sort(), ['cooldown', null]);
  await updateTenantSettings(bulwark.ctx.prisma, tenant, { alerts: { cooldownSeconds: 0 } }, system);
  await producer.alert.send(alert(tenant));
  await waitFor(async () => (await ledger(tenant)).filter((r) => r.outcome === 'delivered').length === 2, 'the third alert delivered');
});

test('an alert for a tenant that does not exist fails for good, naming it, and leaves no ledger row', async () => {
  const ghost = '00000000-0000-4000-8000-0000000d0e5d';
  const { jobId } = await producer.alert.send(alert(ghost));
  const queue = new Queue(ALERT_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
  try {
    // The state first, then the job: read the other way round, the job can fail between
    // the two reads, and the job read before it (still active: no failedReason, no
    // attempt counted) would be the one asserted on. Once failed, its hash is final.
    const job = await waitFor(async () => ((await queue.getJobState(jobId)) === 'failed' ? queue.getJob(jobId) : undefined), 'the alert job to fail');
    assert.match(job.failedReason, `unknown tenant ${ghost}`);
    assert.is(job.attemptsMade, 1, 'not retried: it can never succeed');
  } finally {
    await queue.close();
  }
  assert.equal(await ledger(ghost), []);
});

test('no credential in logs, job data or ledger rows', async () => {
  assert.not.match(logs.text(), SIGNING_SECRET);
  assert.not.match(JSON.stringify((await superuserQuery(db.url, 'SELECT * FROM alert_ledger')).rows), SIGNING_SECRET);
  // Every key of the run, of every type: the alert jobs' data is among them.
  const dump = await dumpRedis(bulwark.ctx.config.queuePrefix);
  assert.match(dump, 'Disk almost full', 'the dump holds alert job data');
  assert.not.match(dump, SIGNING_SECRET);
});

test.run();
