// Which channels an alert reaches, who may raise how many, and which credential signs
// it, end to end (producer → alert queue → worker → ledger → webhook receiver): routing
// by severity (and a visible failure when no channel takes it), the per-user sliding
// window of alerts.userThrottle, and a secret:// reference resolved at send time, so a
// rotated signing secret signs the next send. Real Redis, Postgres and HTTP on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../../lib/config.js';
import type { Alert } from '../../../lib/contracts/alert.js';
import { rotateSecret, setSecret } from '../../../lib/secrets/secrets.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { verifyWebhookSignature } from '../../../workers/alert/sending/channels/webhook-signature.js';
import { processAlert } from '../../../workers/alert/jobs/processor.js';
import { firstRun, startAlertHarness, system, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { captureLogs, REDIS_URL, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { replies, type RecordedRequest } from '../../helpers/receiver.js';

const logs = captureLogs();
let h: AlertHarness;
let producer: Producer;
test.before(setup(async () => {
  h = await startAlertHarness({ logs });
  producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: h.bulwark.ctx.config.queuePrefix });
}));
test.after(cleanup([
  ['close producer', () => producer?.close()],
  ['close harness', () => h?.close()],
]));

/** Enqueue an alert through the producer, as application code does; returns its id. */
async function send(tenantId: string, extra: Partial<Alert>): Promise<string> {
  const { id: _generated, occurredAt: _now, source: _internal, ...alert } = h.alertFor(tenantId, extra);
  return (await producer.alert.send(alert)).alertId;
}
/** A webhook channel of the tenant posting to the harness receiver at /<name>. */
const channel = (tenantId: string, name: string, severities: Alert['severity'][], secret = 'hook') =>
  addChannel(h.bulwark.ctx.prisma, { tenantId, name, type: 'webhook', target: `${h.receiver.url}/${name}`, secretRef: `secret://${secret}`, severities }, system, LOOPBACK_TARGETS);
const postsOf = (alertId: string): RecordedRequest[] => h.receiver.requests.filter((r) => (JSON.parse(r.body) as { alertIds: string[] }).alertIds.includes(alertId));
const channelRows = async (alertId: string) =>
  (await superuserQuery(h.db.url, 'SELECT channel, outcome FROM alert_deliveries WHERE alert_id = $1 ORDER BY channel', [alertId])).rows.map((r) => [r.channel, r.outcome]);
const eventsFor = (alertId: string, event: string) => logs.events().filter((e) => e.event === event && Array.isArray(e.alert_ids) && (e.alert_ids as string[]).includes(alertId));
const settled = (id: string) => waitFor(async () => {
  const row = await h.rowOf(id);
  return row && !['received', 'delivering'].includes(row.outcome) ? row : undefined;
}, `alert ${id} settled`, 30_000);
const metricLine = async (labels: string) => new RegExp(`^bulwark_alerts_total\\{${labels}\\} (\\d+)$`, 'm').exec(await h.bulwark.ctx.metrics.registry.metrics())?.[1];

test('severity routing: a warning reaches only the channel taking warning, a high one only the high/critical channel', async () => {
  const { tenantId } = await h.tenantWithHooks('routing', [], { cooldownSeconds: 0 });
  await channel(tenantId, 'pager', ['high', 'critical']);
  await channel(tenantId, 'chat', ['warning']);
  const warning = await send(tenantId, { type: 'disk.full', severity: 'warning' });
  await h.delivered(warning, 30_000);
  const high = await send(tenantId, { type: 'db.down', severity: 'high' });
  await h.delivered(high, 30_000);
  await h.deliveriesIdle();
  assert.equal(postsOf(warning).map((r) => r.path), ['/chat'], 'the warning went to chat only');
  assert.equal(postsOf(high).map((r) => r.path), ['/pager'], 'the high alert went to pager only');
  assert.equal(await channelRows(warning), [['chat', 'delivered']]);
  assert.equal(await channelRows(high), [['pager', 'delivered']]);
});

test('no channel takes the severity: no request, the row is failed / no_channel, and the log event and counter say so', async () => {
  const { tenantId } = await h.tenantWithHooks('no-channel', [], { cooldownSeconds: 0 });
  await channel(tenantId, 'pager', ['high', 'critical']);
  await channel(tenantId, 'chat', ['warning']);
  const before = h.receiver.requests.length;
  const info = await send(tenantId, { type: 'backup.done', severity: 'info' });
  const row = await settled(info);
  assert.equal([row.outcome, row.reason], ['failed', 'no_channel']);
  await h.deliveriesIdle();
  assert.is(h.receiver.requests.length, before, 'no HTTP request at all');
  assert.equal(await channelRows(info), [], 'no channel row: no channel was chosen');
  const [event, ...more] = eventsFor(info, 'alert_failed');
  assert.equal(more, []);
  assert.equal([event?.level, event?.tenant_id, event?.reason, event?.severity], ['error', tenantId, 'no_channel', 'info']);
  assert.is(await metricLine('outcome="failed",reason="no_channel",channel="none"'), '1');
});

test('per-user throttle: past alerts.userThrottle one user is suppressed as user_throttled with abuse_throttle_deny; another user is not', async () => {
  const { tenantId } = await h.tenantWithHooks('throttle', ['/throttle'], { cooldownSeconds: 0, userThrottle: { limit: 2, windowSeconds: 600 } });
  const mallory = await Promise.all([1, 2, 3].map((i) => send(tenantId, { type: `login.failed-${i}`, userId: 'mallory' })));
  const outcomes = (await Promise.all(mallory.map(settled))).map((r) => `${r.outcome}/${r.reason ?? '-'}`);
  assert.equal([...outcomes].sort(), ['delivered/-', 'delivered/-', 'suppressed/user_throttled'], 'two within the limit, the third throttled');
  const throttledAt = outcomes.indexOf('suppressed/user_throttled');
  const throttled = mallory[throttledAt]!;
  const alice = await send(tenantId, { type: 'login.failed-4', userId: 'alice' });
  await h.delivered(alice, 30_000);
  await h.deliveriesIdle();
  assert.is(h.hitsAt('/throttle'), 3, 'mallory twice, alice once');
  assert.equal(postsOf(throttled), [], 'the throttled alert was not sent');
  const denials = logs.events().filter((e) => e.event === 'abuse_throttle_deny' && e.tenant_id === tenantId);
  assert.is(denials.length, 1, JSON.stringify(denials));
  assert.equal([denials[0]!.level, denials[0]!.user_id, denials[0]!.alert_type], ['warn', 'mallory', `login.failed-${throttledAt + 1}`]);
  assert.equal(eventsFor(throttled, 'alert_suppressed').map((e) => e.reason), ['user_throttled']);
  assert.is(await metricLine('outcome="suppressed",reason="user_throttled",channel="none"'), '1');
});

const signedWith = (req: RecordedRequest, secret: string) => verifyWebhookSignature({ secret, body: req.body, headers: req.headers }).ok;

test('secret:// is resolved at send time: after a rotation the next alert is signed with the new value only', async () => {
  const [OLD, NEW] = ['whsec-before-rotation-A1', 'whsec-after-rotation-B2'];
  const { tenantId } = await h.tenantWithHooks('rotation', [], { cooldownSeconds: 0 });
  const keys = requireMasterKeys(h.bulwark.ctx.config);
  await setSecret(h.bulwark.ctx.prisma, keys, { tenantId, name: 'signing', value: OLD }, system);
  await channel(tenantId, 'signed', ['warning'], 'signing');
  const first = await send(tenantId, { type: 'disk.full' });
  await h.delivered(first, 30_000);
  assert.is((await rotateSecret(h.bulwark.ctx.prisma, keys, { tenantId, name: 'signing', value: NEW }, system)).version, 2);
  const second = await send(tenantId, { type: 'disk.full' });
  await h.delivered(second, 30_000);
  const [a, b] = [postsOf(first), postsOf(second)];
  assert.equal([a.length, b.length], [1, 1]);
  assert.equal([signedWith(a[0]!, OLD), signedWith(a[0]!, NEW)], [true, false], 'the first delivery: the old value');
  assert.equal([signedWith(b[0]!, NEW), signedWith(b[0]!, OLD)], [true, false], 'the second delivery: the new value');
  assert.not.match(logs.text(), OLD);
  assert.not.match(logs.text(), NEW);
});

test('a queued send resolves the secret when its job runs: a retry after a rotation is signed with the value rotated in', async () => {
  const [V1, V2] = ['whsec-retry-before-C3', 'whsec-retry-after-D4'];
  const { tenantId } = await h.tenantWithHooks('rotation-retry', [], { cooldownSeconds: 0 });
  const keys = requireMasterKeys(h.bulwark.ctx.config);
  await setSecret(h.bulwark.ctx.prisma, keys, { tenantId, name: 'retried', value: V1 }, system);
  const ch = await channel(tenantId, 'retried', ['warning'], 'retried');
  // The inline send gets a 500 and hands over to a deliver job. The delivery queue is
  // paused until the rotation has committed, so the retry cannot run before it.
  h.receiver.next(replies.serverError);
  await h.ctx.deliveries.pause();
  try {
    const alert = h.alertFor(tenantId);
    await processAlert({ v: 1, alert }, h.ctx, firstRun);
    assert.ok(await h.ctx.deliveries.getJob(`deliver-${alert.id}-${ch.id}`), 'the retry is queued');
    await rotateSecret(h.bulwark.ctx.prisma, keys, { tenantId, name: 'retried', value: V2 }, system);
    await h.ctx.deliveries.resume();
    await h.delivered(alert.id, 30_000);
    const [failed, retried, ...rest] = postsOf(alert.id);
    assert.equal(rest, []);
    assert.equal([signedWith(failed!, V1), signedWith(failed!, V2)], [true, false], 'the send answered 500: the value then');
    assert.equal([signedWith(retried!, V2), signedWith(retried!, V1)], [true, false], 'the retry: the value rotated in');
  } finally {
    await h.ctx.deliveries.resume();
  }
});

test.run();
