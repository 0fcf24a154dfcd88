// A job cut short (its worker died, or it failed and is retried) must leave nothing
// behind that waits for ever, and must not send twice what the cut-short run already
// queued. Each test rebuilds, in the real Redis and Postgres, the state a crash at one
// point leaves (by running the first steps of the real code and stopping there), then
// runs the job again the way BullMQ would (attemptsStarted 2), with the delivery
// worker running, against a recording receiver. Tenants keep the default 5-minute
// cooldown: a re-run that decided anew would meet its own first decision's cooldown.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { decidedKey, policyFromSettings, type AlertDecision } from '../../lib/alerts/decide.js';
import { addChannel } from '../../lib/channels.js';
import { requireMasterKeys } from '../../lib/config.js';
import type { Alert } from '../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE } from '../../lib/contracts/alert-delivery.js';
import { setSecret } from '../../lib/secrets.js';
import { createTenant } from '../../lib/tenants.js';
import { updateTenantSettings } from '../../lib/tenant-settings.js';
import { enqueueDeliveries } from '../../workers/alert/deliver-jobs.js';
import { processDelivery } from '../../workers/alert/delivery.js';
import { idsKey } from '../../workers/alert/deliver-jobs.js';
import { createAlertContext } from '../../workers/alert/index.js';
import { processAlert, type AlertContext } from '../../workers/alert/processor.js';
import { sweep } from '../../workers/alert/sweep.js';
import { startBulwark, type RunningBulwark } from '../../workers/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../helpers/db.js';
import { testConfig, waitFor } from '../helpers/env.js';
import { cleanup, setup } from '../helpers/lifecycle.js';
import { obliterateQueues } from '../helpers/queues.js';
import { replies, startReceiver, type Receiver } from '../helpers/receiver.js';

const system = { type: 'system' as const, id: 'test' };
let db: TestDatabase;
let bulwark: RunningBulwark;
let receiver: Receiver;
let ctx: AlertContext;

test.before(
  setup(async () => {
    receiver = await startReceiver();
    db = await createTestDatabase();
    bulwark = await startBulwark(testConfig(db.url, { SETTINGS_CACHE_MS: '0' }), { http: false, scheduler: false });
    ctx = createAlertContext(bulwark.ctx, new Queue(ALERT_DELIVERY_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix }));
  }),
);
test.after(
  cleanup([
    ['close queue', () => ctx?.deliveries.close()],
    ['stop bulwark', () => bulwark?.stop()],
    ['obliterate queues', () => obliterateQueues(bulwark.ctx.config.queuePrefix)],
    ['drop database', () => db?.drop()],
    ['close receiver', () => receiver?.close()],
  ]),
);

/** A tenant with webhook channels posting to the receiver at each path (default cooldown kept). */
async function tenantWithHooks(name: string, paths: string[], alerts: Record<string, unknown> = {}): Promise<{ tenantId: string; channelIds: string[] }> {
  const t = await createTenant(bulwark.ctx.prisma, { name });
  await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { maxPerWindow: 100, userThrottle: { limit: 0 }, ...alerts } }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'hook', value: 'whsec-rerun-signing-key' }, system);
  for (const [i, path] of paths.entries()) {
    await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: `hook-${i}`, type: 'webhook', target: `${receiver.url}${path}`, secretRef: 'secret://hook' }, system);
  }
  const channels = await bulwark.ctx.prisma.alertChannel.findMany({ where: { tenantId: t.id }, orderBy: { name: 'asc' } });
  return { tenantId: t.id, channelIds: channels.map((c) => c.id) };
}

const alertFor = (tenantId: string, extra: Partial<Alert> = {}): Alert => ({ id: randomUUID(), tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full', occurredAt: new Date().toISOString(), ...extra });
const firstRun = { id: 'first', attemptsStarted: 1 };
const rerun = { id: 'rerun', attemptsStarted: 2 };
const rowOf = async (id: string) => (await superuserQuery(db.url, 'SELECT outcome, reason, group_id, defer_until FROM alert_ledger WHERE id = $1', [id])).rows[0] as { outcome: string; reason: string | null; group_id: string | null; defer_until: Date | null } | undefined;
const outcomeOf = async (id: string) => (await rowOf(id))?.outcome;
const hitsAt = (path: string) => receiver.requests.filter((r) => r.path === path).length;
const delivered = (id: string, ms?: number) => waitFor(async () => ((await outcomeOf(id)) === 'delivered' ? true : undefined), `alert ${id} delivered`, ms);

/** Wait until no delivery is waiting, running or due soon: every send made has arrived. */
const deliveriesIdle = () =>
  waitFor(async () => {
    const counts = await ctx.deliveries.getJobCounts('waiting', 'active', 'prioritized');
    const soon = (await ctx.deliveries.getDelayed()).filter((j) => j.name === 'deliver' || j.timestamp + (j.opts.delay ?? 0) < Date.now() + 5_000);
    return (Object.values(counts).every((n) => n === 0) && soon.length === 0) || undefined;
  }, 'the alert-delivery queue idle');

/** What the first run did before it died: the receipt and the decision, nothing after. */
async function receiveAndDecide(alert: Alert): Promise<AlertDecision> {
  await ctx.ledger.receive(alert, new Date());
  const { settings, timezone } = await ctx.policyInputsOf(alert.tenantId);
  const policy = policyFromSettings({ ...settings.alerts, quietHours: { ...settings.alerts.quietHours, timezone } });
  return ctx.decider.decide({ tenantId: alert.tenantId, alertId: alert.id, type: alert.type, severity: alert.severity, groupKey: alert.groupKey }, policy);
}

test('died while sending inline (nothing queued, row received): the re-run is not cooled down by itself, it sends once', async () => {
  const { tenantId } = await tenantWithHooks('rerun-inline', ['/a']);
  const alert = alertFor(tenantId);
  assert.is((await receiveAndDecide(alert)).outcome, 'deliver');
  assert.equal(await processAlert({ v: 1, alert }, ctx, rerun), { outcome: 'deliver' });
  await delivered(alert.id);
  await deliveriesIdle();
  assert.is(hitsAt('/a'), 1);
});

test('died after queuing the hand-over, before the row said so: the re-run keeps the one job, one send', async () => {
  const { tenantId, channelIds } = await tenantWithHooks('rerun-received', ['/b']);
  const alert = alertFor(tenantId);
  await receiveAndDecide(alert);
  await enqueueDeliveries(ctx.deliveries, [{ tenantId, channelId: channelIds[0]!, kind: 'single', alertIds: [alert.id], key: alert.id, delayMs: 300 }]);
  assert.is(await outcomeOf(alert.id), 'received');
  await processAlert({ v: 1, alert }, ctx, rerun);
  await delivered(alert.id);
  await deliveriesIdle();
  assert.is(hitsAt('/b'), 1, 'sent once: no second job, no inline send');
  assert.is(await outcomeOf(alert.id), 'delivered', 'not suppressed by its own cooldown');
});

test('a row left delivering with its job gone: the re-run queues the send again and it is delivered', async () => {
  const { tenantId, channelIds } = await tenantWithHooks('rerun-delivering', ['/c']);
  const alert = alertFor(tenantId);
  receiver.next(replies.serverError);
  await processAlert({ v: 1, alert }, ctx, firstRun); // the inline attempt gets a 500 and hands over
  const job = await waitFor(() => ctx.deliveries.getJob(`deliver-${alert.id}-${channelIds[0]}`), 'the hand-over job');
  assert.is(await outcomeOf(alert.id), 'delivering');
  await job.remove(); // lost, by something outside Bulwark
  await processAlert({ v: 1, alert }, ctx, rerun);
  await delivered(alert.id, 15_000);
  assert.is(hitsAt('/c'), 2, 'the failed inline attempt, then the re-queued send');
});

test('two channels, one delivered inline and the other\'s hand-over lost: the re-run still reaches the second', async () => {
  // The second channel posts to a receiver of its own, which answers 500 once.
  const second = await startReceiver();
  try {
    const { tenantId } = await tenantWithHooks('rerun-two-channels', ['/d1']);
    await addChannel(bulwark.ctx.prisma, { tenantId, name: 'hook-b', type: 'webhook', target: `${second.url}/d2`, secretRef: 'secret://hook' }, system);
    const alert = alertFor(tenantId);
    second.next(replies.serverError);
    await processAlert({ v: 1, alert }, ctx, firstRun);
    assert.equal([hitsAt('/d1'), second.requests.length], [1, 1], 'the first channel got it inline; the second failed once');
    for (const j of await ctx.deliveries.getDelayed()) if (j.data.alertIds?.includes(alert.id)) await j.remove(); // the hand-over is lost
    assert.is(await outcomeOf(alert.id), 'delivered', 'the one row says delivered: the lost send is not visible in it');
    await processAlert({ v: 1, alert }, ctx, rerun);
    await second.waitForRequests(2, 15_000);
    await deliveriesIdle();
    assert.is(hitsAt('/d1'), 2, 'the first channel gets it again: the documented repeat');
  } finally {
    await second.close();
  }
});

test('a group opener that died before scheduling its flush: the re-run opens the same group and it is flushed', async () => {
  const { tenantId } = await tenantWithHooks('rerun-opener', ['/g1'], { groupWaitSeconds: 1 });
  const opener = alertFor(tenantId, { groupKey: 'disks' });
  const decision = await receiveAndDecide(opener);
  assert.equal([decision.outcome, decision.group?.opened], ['group', true]);
  assert.is(await ctx.deliveries.getJob(`group-${opener.id}`), undefined, 'no flush was scheduled');
  assert.equal(await processAlert({ v: 1, alert: opener }, ctx, rerun), { outcome: 'grouped' });
  const row = await rowOf(opener.id);
  assert.equal([row?.outcome, row?.reason, row?.group_id], ['grouped', 'group_opened', opener.id], 'still the opener of its own group');
  assert.ok(await ctx.deliveries.getJob(`group-${opener.id}`), 'the flush is scheduled');
  await delivered(opener.id, 15_000);
  assert.is(hitsAt('/g1'), 1);
});

test('a group member re-run after its group was flushed sends nothing of its own', async () => {
  const { tenantId } = await tenantWithHooks('rerun-member', ['/g2'], { groupWaitSeconds: 60 });
  const [opener, member] = [alertFor(tenantId, { groupKey: 'nodes' }), alertFor(tenantId, { groupKey: 'nodes' })];
  for (const a of [opener, member]) assert.equal(await processAlert({ v: 1, alert: a }, ctx, firstRun), { outcome: 'grouped' });
  await (await ctx.deliveries.getJob(`group-${opener.id}`))?.remove(); // the test flushes it now
  await processDelivery({ name: 'group-flush', data: { v: 1, tenantId, groupId: opener.id } } as unknown as Job, ctx);
  await delivered(member.id);
  assert.equal(await processAlert({ v: 1, alert: member }, ctx, rerun), { outcome: 'delivered', reason: 'grouped' });
  await deliveriesIdle();
  assert.is(hitsAt('/g2'), 1, 'one group message, no single message for the member');
});

test('group flush cut short after queuing: the re-run finds the rows still grouped, keeps one job, sends once', async () => {
  const { tenantId, channelIds } = await tenantWithHooks('rerun-flush', ['/g3'], { groupWaitSeconds: 60 });
  const alerts = [alertFor(tenantId, { groupKey: 'disks' }), alertFor(tenantId, { groupKey: 'disks' })];
  for (const a of alerts) assert.is((await processAlert({ v: 1, alert: a }, ctx, firstRun)).outcome, 'grouped');
  const groupId = alerts[0]!.id;
  await (await ctx.deliveries.getJob(`group-${groupId}`))?.remove(); // the test runs the flush itself
  // The flush queued its send and died before recording the rows as delivering.
  await enqueueDeliveries(ctx.deliveries, [{ tenantId, channelId: channelIds[0]!, kind: 'group', alertIds: alerts.map((a) => a.id), key: `g-${groupId}-${idsKey(alerts.map((a) => a.id))}`, delayMs: 300 }]);
  assert.equal(await processDelivery({ name: 'group-flush', data: { v: 1, tenantId, groupId } } as unknown as Job, ctx), { channels: 1 });
  await delivered(alerts[1]!.id);
  await deliveriesIdle();
  assert.is(hitsAt('/g3'), 1);
  assert.equal([await outcomeOf(alerts[0]!.id), await outcomeOf(alerts[1]!.id)], ['delivered', 'delivered']);
});

test('deferred by quiet hours, died before the digest was scheduled: the re-run schedules it', async () => {
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  const now = Date.now();
  const { tenantId } = await tenantWithHooks('rerun-deferred', ['/q'], { quietHours: { enabled: true, start: hhmm(now - 3_600_000), end: hhmm(now + 3_600_000), mode: 'defer' } });
  const alert = alertFor(tenantId);
  const decision = await receiveAndDecide(alert);
  assert.is(decision.outcome, 'defer');
  const jobId = `digest-${tenantId}-${decision.deferUntil!.getTime()}`;
  assert.is(await ctx.deliveries.getJob(jobId), undefined);
  assert.equal(await processAlert({ v: 1, alert }, ctx, rerun), { outcome: 'deferred', reason: 'quiet_hours' });
  assert.is(await outcomeOf(alert.id), 'deferred');
  const digest = await ctx.deliveries.getJob(jobId);
  assert.ok(digest, 'the digest is scheduled');
  await digest.remove(); // it would run in an hour; not this test's business
});

test('the sweep flushes a grouped row past its flush time whose flush never came (a late member)', async () => {
  const { tenantId } = await tenantWithHooks('sweep-group', ['/s'], { groupWaitSeconds: 1 });
  const opener = alertFor(tenantId, { groupKey: 'late' });
  await processAlert({ v: 1, alert: opener }, ctx, firstRun);
  await (await ctx.deliveries.getJob(`group-${opener.id}`))?.remove(); // the flush that would have sent it is gone
  const early = await sweep({ ...ctx, clock: () => new Date() });
  assert.not.ok(early.groups.includes(opener.id), 'not yet: within its flush time and the grace minute');
  const later = await sweep({ ...ctx, clock: () => new Date(Date.now() + 3 * 60_000) });
  assert.ok(later.groups.includes(opener.id));
  await delivered(opener.id);
  assert.is(hitsAt('/s'), 1);
});

test('a first run forgets its decision once recorded; a re-run of a recorded opener schedules its lost flush again', async () => {
  const { tenantId } = await tenantWithHooks('rerun-recorded-opener', ['/g4'], { groupWaitSeconds: 1 });
  const opener = alertFor(tenantId, { groupKey: 'recorded' });
  assert.equal(await processAlert({ v: 1, alert: opener }, ctx, firstRun), { outcome: 'grouped' });
  assert.is(await bulwark.ctx.redis.exists(decidedKey(bulwark.ctx.config.queuePrefix, tenantId, opener.id)), 0, 'nothing left in Redis once the row says it');
  await (await ctx.deliveries.getJob(`group-${opener.id}`))!.remove(); // lost
  assert.equal(await processAlert({ v: 1, alert: opener }, ctx, rerun), { outcome: 'grouped', reason: 'group_opened' });
  assert.ok(await ctx.deliveries.getJob(`group-${opener.id}`), 'scheduled again from the row');
  await delivered(opener.id, 15_000);
  assert.is(hitsAt('/g4'), 1);
});

test('a digest of more than 1,000 alerts goes out in parts of at most 1,000, and every row is delivered', async () => {
  const { tenantId } = await tenantWithHooks('big-digest', ['/big']);
  const until = new Date(Date.now() - 1000);
  const ids: string[] = [];
  for (let i = 0; i < 1001; i++) {
    const a = alertFor(tenantId, { title: `Queue ${i} slow` });
    ids.push(a.id);
    await ctx.ledger.receive(a, new Date());
  }
  await ctx.ledger.apply(ids, { outcome: 'deferred', reason: 'quiet_hours', deferUntil: until });
  await processDelivery({ name: 'digest', data: { v: 1, tenantId, until: until.toISOString() } } as unknown as Job, ctx);
  await waitFor(async () => {
    const r = (await superuserQuery(db.url, `SELECT count(*)::int AS n FROM alert_ledger WHERE tenant_id = $1 AND outcome = 'delivered'`, [tenantId])).rows[0].n as number;
    return r === 1001 || undefined;
  }, 'all 1,001 rows delivered');
  await deliveriesIdle();
  assert.is(hitsAt('/big'), 2, 'two messages: 1,000 and 1');
});

test('the sweep and bulwark_alerts_stuck report alerts delivering with no change for an hour, naming tenant and id, and not fresh ones', async () => {
  const { tenantId } = await tenantWithHooks('stale', ['/st']);
  const [old, fresh] = [alertFor(tenantId), alertFor(tenantId)];
  for (const a of [old, fresh]) {
    await ctx.ledger.receive(a, new Date());
    await ctx.ledger.apply([a.id], { outcome: 'delivering' });
  }
  await superuserQuery(db.url, `UPDATE alert_ledger SET updated_at = now() - interval '2 hours' WHERE id = $1`, [old.id]);
  const logs: Array<Record<string, unknown>> = [];
  const logger = { warn: (o: Record<string, unknown>) => void logs.push(o) } as unknown as AlertContext['logger'];
  const result = await sweep({ ...ctx, logger, clock: () => new Date() });
  assert.ok(result.stale.delivering >= 1);
  const line = logs.find((l) => l.event === 'alert_stale' && l.outcome === 'delivering');
  assert.ok(line, JSON.stringify(logs));
  assert.ok((line.tenants as string[]).includes(tenantId));
  assert.ok((line.alert_ids as string[]).includes(old.id));
  assert.not.ok((line.alert_ids as string[]).includes(fresh.id), 'a row that changed recently is not stale');
  // The same count reaches Prometheus at scrape time (rule AlertsStuck).
  const stuck = /bulwark_alerts_stuck\{state="delivering"\} (\d+)/.exec(await bulwark.ctx.metrics.registry.metrics())?.[1];
  assert.is(Number(stuck), result.stale.delivering);
  await superuserQuery(db.url, `UPDATE alert_ledger SET outcome = 'failed' WHERE id = ANY($1::uuid[])`, [[old.id, fresh.id]]);
});

test('a decision replayed after what followed it, or a late "delivering", never overwrites a later state', async () => {
  const { tenantId } = await tenantWithHooks('late-writes', ['/e']);
  const alert = alertFor(tenantId);
  await ctx.ledger.receive(alert, new Date());
  assert.equal(await ctx.ledger.apply([alert.id], { outcome: 'delivered', attempts: 1, status: 200, deliveredAt: new Date() }), [alert.id]);
  assert.equal(await ctx.ledger.apply([alert.id], { outcome: 'delivering' }), [], 'a late delivering changes nothing');
  assert.equal(await ctx.ledger.apply([alert.id], { outcome: 'grouped', reason: 'grouped' }), [], 'a replayed decision changes nothing');
  assert.is(await outcomeOf(alert.id), 'delivered');
  await ctx.ledger.apply([alert.id], { outcome: 'failed', reason: 'rejected' });
  await ctx.ledger.apply([alert.id], { outcome: 'delivering' });
  assert.is(await outcomeOf(alert.id), 'failed');
});

test.run();
