// A job cut short (its worker died, or it failed and is retried) must leave nothing
// behind that waits for ever, and must not send twice what the cut-short run already
// queued. Each test rebuilds, in the real Redis and Postgres, the state a crash at one
// point leaves (by running the first steps of the real code and stopping there), then
// runs the job again the way BullMQ would (attemptsStarted 2), with the delivery
// worker running, against a recording receiver. Tenants keep the default 5-minute
// cooldown: a re-run that decided anew would meet its own first decision's cooldown.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from 'bullmq';
import { decidedKey, policyFromSettings, type AlertDecision } from '../../../lib/alerts/decide.js';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import type { Alert } from '../../../lib/contracts/alert.js';
import { enqueueDeliveries, idsKey } from '../../../workers/alert/jobs/deliver-jobs.js';
import { processDelivery } from '../../../workers/alert/jobs/delivery.js';
import { processAlert } from '../../../workers/alert/jobs/processor.js';
import { firstRun, rerun, startAlertHarness, system, type AlertHarness } from '../../helpers/alert-harness.js';
import { waitFor } from '../../helpers/env.js';
import { setup } from '../../helpers/lifecycle.js';
import { replies, startReceiver } from '../../helpers/receiver.js';

let h: AlertHarness;
test.before(setup(async () => void (h = await startAlertHarness())));
test.after(() => h?.close());

/** What the first run did before it died: the receipt and the decision, nothing after. */
async function receiveAndDecide(alert: Alert): Promise<AlertDecision> {
  await h.ctx.ledger.receive(alert, new Date());
  const { settings, timezone } = await h.ctx.policyInputsOf(alert.tenantId);
  const policy = policyFromSettings({ ...settings.alerts, quietHours: { ...settings.alerts.quietHours, timezone } });
  return h.ctx.decider.decide({ tenantId: alert.tenantId, alertId: alert.id, type: alert.type, severity: alert.severity, groupKey: alert.groupKey }, policy);
}

test('died while sending inline (nothing queued, row received): the re-run is not cooled down by itself, it sends once', async () => {
  const { tenantId } = await h.tenantWithHooks('rerun-inline', ['/a']);
  const alert = h.alertFor(tenantId);
  assert.is((await receiveAndDecide(alert)).outcome, 'deliver');
  assert.equal(await processAlert({ v: 1, alert }, h.ctx, rerun), { outcome: 'deliver' });
  await h.delivered(alert.id);
  await h.deliveriesIdle();
  assert.is(h.hitsAt('/a'), 1);
});

test('died after queuing the hand-over, before the row said so: the re-run keeps the one job, one send', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('rerun-received', ['/b']);
  const alert = h.alertFor(tenantId);
  await receiveAndDecide(alert);
  await enqueueDeliveries(h.ctx.deliveries, [{ tenantId, channelId: channelIds[0]!, kind: 'single', alertIds: [alert.id], key: alert.id, delayMs: 300 }]);
  assert.is(await h.outcomeOf(alert.id), 'received');
  await processAlert({ v: 1, alert }, h.ctx, rerun);
  await h.delivered(alert.id);
  await h.deliveriesIdle();
  assert.is(h.hitsAt('/b'), 1, 'sent once: no second job, no inline send');
  assert.is(await h.outcomeOf(alert.id), 'delivered', 'not suppressed by its own cooldown');
});

test('a row left delivering with its job gone: the re-run queues the send again and it is delivered', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('rerun-delivering', ['/c']);
  const alert = h.alertFor(tenantId);
  h.receiver.next(replies.serverError);
  await processAlert({ v: 1, alert }, h.ctx, firstRun); // the inline attempt gets a 500 and hands over
  const job = await waitFor(() => h.ctx.deliveries.getJob(`deliver-${alert.id}-${channelIds[0]}`), 'the hand-over job');
  assert.is(await h.outcomeOf(alert.id), 'delivering');
  await job.remove(); // lost, by something outside Bulwark
  await processAlert({ v: 1, alert }, h.ctx, rerun);
  await h.delivered(alert.id, 15_000);
  assert.is(h.hitsAt('/c'), 2, 'the failed inline attempt, then the re-queued send');
});

test('two channels, one delivered inline and the other\'s hand-over lost: the re-run reaches the second only', async () => {
  // The second channel posts to a receiver of its own, which answers 500 once.
  const second = await startReceiver();
  try {
    const { tenantId } = await h.tenantWithHooks('rerun-two-channels', ['/d1']);
    await addChannel(h.bulwark.ctx.prisma, { tenantId, name: 'hook-b', type: 'webhook', target: `${second.url}/d2`, secretRef: 'secret://hook' }, system, LOOPBACK_TARGETS);
    const alert = h.alertFor(tenantId);
    second.next(replies.serverError);
    await processAlert({ v: 1, alert }, h.ctx, firstRun);
    assert.equal([h.hitsAt('/d1'), second.requests.length], [1, 1], 'the first channel got it inline; the second failed once');
    for (const j of await h.ctx.deliveries.getDelayed()) if (j.data.alertIds?.includes(alert.id)) await j.remove(); // the hand-over is lost
    assert.is(await h.outcomeOf(alert.id), 'delivering', 'the alert waits for its second channel: the lost send is visible');
    await processAlert({ v: 1, alert }, h.ctx, rerun);
    await second.waitForRequests(2, 15_000);
    await h.delivered(alert.id);
    await h.deliveriesIdle();
    assert.is(h.hitsAt('/d1'), 1, 'the channel already reached is not sent to again');
  } finally {
    await second.close();
  }
});

test('a group opener that died before scheduling its flush: the re-run opens the same group and it is flushed', async () => {
  const { tenantId } = await h.tenantWithHooks('rerun-opener', ['/g1'], { groupWaitSeconds: 1 });
  const opener = h.alertFor(tenantId, { groupKey: 'disks' });
  const decision = await receiveAndDecide(opener);
  assert.equal([decision.outcome, decision.group?.opened], ['group', true]);
  assert.is(await h.ctx.deliveries.getJob(`group-${opener.id}`), undefined, 'no flush was scheduled');
  assert.equal(await processAlert({ v: 1, alert: opener }, h.ctx, rerun), { outcome: 'grouped' });
  const row = await h.rowOf(opener.id);
  assert.equal([row?.outcome, row?.reason, row?.group_id], ['grouped', 'group_opened', opener.id], 'still the opener of its own group');
  assert.ok(await h.ctx.deliveries.getJob(`group-${opener.id}`), 'the flush is scheduled');
  await h.delivered(opener.id, 15_000);
  assert.is(h.hitsAt('/g1'), 1);
});

test('a group member re-run after its group was flushed sends nothing of its own', async () => {
  const { tenantId } = await h.tenantWithHooks('rerun-member', ['/g2'], { groupWaitSeconds: 60 });
  const [opener, member] = [h.alertFor(tenantId, { groupKey: 'nodes' }), h.alertFor(tenantId, { groupKey: 'nodes' })];
  for (const a of [opener, member]) assert.equal(await processAlert({ v: 1, alert: a }, h.ctx, firstRun), { outcome: 'grouped' });
  await (await h.ctx.deliveries.getJob(`group-${opener.id}`))?.remove(); // the test flushes it now
  await processDelivery({ name: 'group-flush', data: { v: 1, tenantId, groupId: opener.id } } as unknown as Job, h.ctx);
  await h.delivered(member.id);
  assert.equal(await processAlert({ v: 1, alert: member }, h.ctx, rerun), { outcome: 'delivered', reason: 'grouped' });
  await h.deliveriesIdle();
  assert.is(h.hitsAt('/g2'), 1, 'one group message, no single message for the member');
});

test('group flush cut short after queuing: the re-run finds the rows still grouped, keeps one job, sends once', async () => {
  const { tenantId, channelIds } = await h.tenantWithHooks('rerun-flush', ['/g3'], { groupWaitSeconds: 60 });
  const alerts = [h.alertFor(tenantId, { groupKey: 'disks' }), h.alertFor(tenantId, { groupKey: 'disks' })];
  for (const a of alerts) assert.is((await processAlert({ v: 1, alert: a }, h.ctx, firstRun)).outcome, 'grouped');
  const groupId = alerts[0]!.id;
  await (await h.ctx.deliveries.getJob(`group-${groupId}`))?.remove(); // the test runs the flush itself
  // The flush queued its send and died before recording the rows as delivering.
  await enqueueDeliveries(h.ctx.deliveries, [{ tenantId, channelId: channelIds[0]!, kind: 'group', alertIds: alerts.map((a) => a.id), key: `g-${groupId}-${idsKey(alerts.map((a) => a.id))}`, delayMs: 300 }]);
  assert.equal(await processDelivery({ name: 'group-flush', data: { v: 1, tenantId, groupId } } as unknown as Job, h.ctx), { channels: 1 });
  await h.delivered(alerts[1]!.id);
  await h.deliveriesIdle();
  assert.is(h.hitsAt('/g3'), 1);
  assert.equal([await h.outcomeOf(alerts[0]!.id), await h.outcomeOf(alerts[1]!.id)], ['delivered', 'delivered']);
});

test('deferred by quiet hours, died before the digest was scheduled: the re-run schedules it', async () => {
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  const now = Date.now();
  const { tenantId } = await h.tenantWithHooks('rerun-deferred', ['/q'], { quietHours: { enabled: true, start: hhmm(now - 3_600_000), end: hhmm(now + 3_600_000), mode: 'defer' } });
  const alert = h.alertFor(tenantId);
  const decision = await receiveAndDecide(alert);
  assert.is(decision.outcome, 'defer');
  const jobId = `digest-${tenantId}-${decision.deferUntil!.getTime()}`;
  assert.is(await h.ctx.deliveries.getJob(jobId), undefined);
  assert.equal(await processAlert({ v: 1, alert }, h.ctx, rerun), { outcome: 'deferred', reason: 'quiet_hours' });
  assert.is(await h.outcomeOf(alert.id), 'deferred');
  const digest = await h.ctx.deliveries.getJob(jobId);
  assert.ok(digest, 'the digest is scheduled');
  await digest.remove(); // it would run in an hour; not this test's business
});

test('a first run forgets its decision once recorded; a re-run of a recorded opener schedules its lost flush again', async () => {
  const { tenantId } = await h.tenantWithHooks('rerun-recorded-opener', ['/g4'], { groupWaitSeconds: 1 });
  const opener = h.alertFor(tenantId, { groupKey: 'recorded' });
  assert.equal(await processAlert({ v: 1, alert: opener }, h.ctx, firstRun), { outcome: 'grouped' });
  await h.ctx.decider.forgotten();
  assert.is(await h.bulwark.ctx.redis.exists(decidedKey(h.bulwark.ctx.config.queuePrefix, tenantId, opener.id)), 0, 'nothing left in Redis once the row says it');
  await (await h.ctx.deliveries.getJob(`group-${opener.id}`))!.remove(); // lost
  assert.equal(await processAlert({ v: 1, alert: opener }, h.ctx, rerun), { outcome: 'grouped', reason: 'group_opened' });
  assert.ok(await h.ctx.deliveries.getJob(`group-${opener.id}`), 'scheduled again from the row');
  await h.delivered(opener.id, 15_000);
  assert.is(h.hitsAt('/g4'), 1);
});

test('a decision replayed after what followed it, or a late "delivering", never overwrites a later state', async () => {
  const { tenantId } = await h.tenantWithHooks('late-writes', ['/e']);
  const alert = h.alertFor(tenantId);
  await h.ctx.ledger.receive(alert, new Date());
  assert.equal(await h.ctx.ledger.apply([alert.id], { outcome: 'delivered', attempts: 1, status: 200, deliveredAt: new Date() }), [alert.id]);
  assert.equal(await h.ctx.ledger.apply([alert.id], { outcome: 'delivering' }), [], 'a late delivering changes nothing');
  assert.equal(await h.ctx.ledger.apply([alert.id], { outcome: 'grouped', reason: 'grouped' }), [], 'a replayed decision changes nothing');
  assert.is(await h.outcomeOf(alert.id), 'delivered');
  await h.ctx.ledger.apply([alert.id], { outcome: 'failed', reason: 'rejected' });
  await h.ctx.ledger.apply([alert.id], { outcome: 'delivering' });
  assert.is(await h.outcomeOf(alert.id), 'failed');
});

test.run();
