// One row per alert and channel (alert_deliveries): an alert sent to several channels
// is settled only when every channel has finished, a failed channel is never hidden by
// another's success, a 429 on one channel keeps the alert delivering, and the sweep
// settles an alert two processes left delivering. Real Redis, Postgres and receivers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel, removeChannel } from '../../../lib/alerts/channels.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { processAlert } from '../../../workers/alert/jobs/processor.js';
import { sweep } from '../../../workers/alert/jobs/sweep.js';
import { firstRun, rerun, startAlertHarness, system, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { setup } from '../../helpers/lifecycle.js';
import { replies, startReceiver, type Receiver } from '../../helpers/receiver.js';

let h: AlertHarness;
let second: Receiver;
test.before(setup(async () => {
  h = await startAlertHarness();
  second = await startReceiver();
}));
test.after(async () => {
  await second?.close();
  await h?.close();
});

interface DeliveryRow { channel: string | null; outcome: string; reason: string | null; attempts: number; last_status: number | null; delivery_ms: number | null }
const deliveriesOf = async (alertId: string) =>
  (await superuserQuery(h.db.url, 'SELECT channel, outcome, reason, attempts, last_status, delivery_ms FROM alert_deliveries WHERE alert_id = $1 ORDER BY channel', [alertId])).rows as DeliveryRow[];

/** A tenant whose alerts go to two webhook channels: hook-0 on the harness receiver, hook-1 on `second`. */
async function twoChannels(name: string) {
  const { tenantId, channelIds } = await h.tenantWithHooks(name, [`/${name}`]);
  await addChannel(h.bulwark.ctx.prisma, { tenantId, name: 'hook-1', type: 'webhook', target: `${second.url}/${name}`, secretRef: 'secret://hook' }, system, LOOPBACK_TARGETS);
  const channels = await h.bulwark.ctx.prisma.alertChannel.findMany({ where: { tenantId }, orderBy: { name: 'asc' } });
  assert.is(channels[0]!.id, channelIds[0]);
  return { tenantId, channels: channels.map((c) => ({ id: c.id, name: c.name, type: c.type as 'webhook' })) };
}

test('a single channel\'s send has its own row, written by the same statement as the alert\'s', async () => {
  const { tenantId } = await h.tenantWithHooks('one-channel', ['/one']);
  const alert = h.alertFor(tenantId);
  await processAlert({ v: 1, alert }, h.ctx, firstRun);
  assert.is(await h.outcomeOf(alert.id), 'delivered');
  const [row, ...rest] = await deliveriesOf(alert.id);
  assert.equal(rest, []);
  assert.equal([row?.channel, row?.outcome, row?.attempts, row?.last_status], ['hook-0', 'delivered', 1, 200]);
  assert.ok(row!.delivery_ms !== null && row!.delivery_ms >= 0);
});

test('two channels, one refuses (400): the alert is failed and each channel\'s row tells its own send', async () => {
  const { tenantId } = await twoChannels('one-refuses');
  second.next(replies.badRequest);
  const alert = h.alertFor(tenantId);
  await processAlert({ v: 1, alert }, h.ctx, firstRun);
  const row = await h.rowOf(alert.id);
  assert.equal([row?.outcome, row?.reason], ['failed', 'rejected']);
  assert.equal([row?.delivered_at, row?.delivery_ms], [null, null], 'a failed alert has no delivery time, though one channel delivered');
  assert.equal((await deliveriesOf(alert.id)).map((d) => [d.channel, d.outcome, d.reason, d.last_status]), [
    ['hook-0', 'delivered', null, 200],
    ['hook-1', 'failed', 'rejected', 400],
  ]);
});

test('whichever order the results come in: delivering until the last channel, then failed if any failed, else delivered', async () => {
  const { tenantId, channels } = await twoChannels('order');
  const [a, b] = channels as [(typeof channels)[0], (typeof channels)[0]];
  const result = (ch: typeof a, outcome: 'delivered' | 'failed') =>
    outcome === 'delivered'
      ? { outcome, channelId: ch.id, channel: ch.name, channelType: ch.type, attempts: 1, status: 200, deliveredAt: new Date() }
      : { outcome, reason: 'rejected', channelId: ch.id, channel: ch.name, channelType: ch.type, attempts: 1, status: 400 };
  const cases: Array<[first: [typeof a, 'delivered' | 'failed'], then: [typeof a, 'delivered' | 'failed'], final: string]> = [
    [[a, 'failed'], [b, 'delivered'], 'failed'],
    [[a, 'delivered'], [b, 'failed'], 'failed'],
    [[b, 'delivered'], [a, 'delivered'], 'delivered'],
  ];
  for (const [first, then, final] of cases) {
    const alert = h.alertFor(tenantId);
    await h.ctx.ledger.receive(alert, new Date());
    await h.ctx.ledger.apply([alert.id], { outcome: 'delivering', pendingChannels: channels });
    assert.equal((await deliveriesOf(alert.id)).map((d) => d.outcome), ['delivering', 'delivering'], 'a row per channel, waiting');
    await h.ctx.ledger.apply([alert.id], result(...first));
    assert.is(await h.outcomeOf(alert.id), 'delivering', `after ${first[0].name} ${first[1]}: the other is still to come`);
    await h.ctx.ledger.apply([alert.id], result(...then));
    assert.is(await h.outcomeOf(alert.id), final, `${first[1]} then ${then[1]}`);
    assert.is((await h.rowOf(alert.id))?.reason, final === 'failed' ? 'rejected' : null);
    if (final === 'failed') {
      const last = (await superuserQuery(h.db.url, 'SELECT channel, last_status FROM alert_ledger WHERE id = $1', [alert.id])).rows[0];
      assert.equal([last.channel, last.last_status], [(first[1] === 'failed' ? first : then)[0].name, 400], 'the alert row tells the failed send, not a later success');
    }
    // A late `delivering` (a fan-out recorded after its jobs finished) changes nothing.
    assert.equal(await h.ctx.ledger.apply([alert.id], { outcome: 'delivering', pendingChannels: channels }), []);
    assert.is(await h.outcomeOf(alert.id), final);
  }
});

test('a channel\'s result recorded before the fan-out said it waits (a fast queued job): the alert is reopened, then settled by the last', async () => {
  const { tenantId, channels } = await twoChannels('early-result');
  const [a, b] = channels as [(typeof channels)[0], (typeof channels)[0]];
  const alert = h.alertFor(tenantId);
  await h.ctx.ledger.receive(alert, new Date());
  await h.ctx.ledger.apply([alert.id], { outcome: 'delivered', channelId: a.id, channel: a.name, channelType: a.type, attempts: 1, status: 200, deliveredAt: new Date() });
  assert.is(await h.outcomeOf(alert.id), 'delivered', 'alone, the one result settles it');
  await h.ctx.ledger.apply([alert.id], { outcome: 'delivering', pendingChannels: channels });
  assert.is(await h.outcomeOf(alert.id), 'delivering', 'reopened: the other channel is still to come');
  assert.equal((await deliveriesOf(alert.id)).map((d) => d.outcome), ['delivered', 'delivering'], 'the finished channel stays finished');
  await h.ctx.ledger.apply([alert.id], { outcome: 'failed', reason: 'rejected', channelId: b.id, channel: b.name, channelType: b.type, attempts: 1, status: 400 });
  assert.is(await h.outcomeOf(alert.id), 'failed');
});

test('a group sent to two channels: every member has a row per channel, and all are delivered', async () => {
  const { tenantId } = await twoChannels('group-two');
  await updateTenantSettings(h.bulwark.ctx.prisma, tenantId, { alerts: { groupWaitSeconds: 1 } }, system);
  const members = [0, 1, 2].map((i) => h.alertFor(tenantId, { groupKey: 'disks', title: `Disk ${i} almost full` }));
  for (const m of members) await processAlert({ v: 1, alert: m }, h.ctx, firstRun);
  for (const m of members) await h.delivered(m.id, 15_000);
  for (const m of members) assert.equal((await deliveriesOf(m.id)).map((d) => [d.channel, d.outcome]), [['hook-0', 'delivered'], ['hook-1', 'delivered']]);
  await h.deliveriesIdle();
  assert.equal([h.hitsAt('/group-two'), second.requests.filter((r) => r.path === '/group-two').length], [1, 1], 'one message per channel listing the group');
});

test('a re-run after a channel was removed closes that channel\'s row, so the alert does not wait for ever', async () => {
  const { tenantId, channels } = await twoChannels('removed-since');
  const [a] = channels as [(typeof channels)[0]];
  const alert = h.alertFor(tenantId);
  await h.ctx.ledger.receive(alert, new Date());
  await h.ctx.ledger.apply([alert.id], { outcome: 'delivering', pendingChannels: channels });
  await h.ctx.ledger.apply([alert.id], { outcome: 'delivered', channelId: a.id, channel: a.name, channelType: a.type, attempts: 1, status: 200, deliveredAt: new Date() });
  await removeChannel(h.bulwark.ctx.prisma, tenantId, 'hook-1', system);
  await processAlert({ v: 1, alert }, h.ctx, rerun);
  assert.equal((await deliveriesOf(alert.id)).map((d) => [d.channel, d.outcome, d.reason]), [['hook-0', 'delivered', null], ['hook-1', 'failed', 'channel_removed']]);
  const row = await h.rowOf(alert.id);
  assert.equal([row?.outcome, row?.reason], ['failed', 'channel_removed']);
  await h.deliveriesIdle();
  assert.is(h.hitsAt('/removed-since'), 0, 'the channel already reached is not sent to again');
});

test('a 429 on one channel keeps the alert delivering while the other is delivered; it is delivered when the pause ends', async () => {
  const { tenantId } = await twoChannels('paused');
  second.next(replies.tooMany('1'));
  const alert = h.alertFor(tenantId);
  await processAlert({ v: 1, alert }, h.ctx, firstRun);
  assert.is(await h.outcomeOf(alert.id), 'delivering');
  assert.equal((await deliveriesOf(alert.id)).map((d) => [d.channel, d.outcome]), [['hook-0', 'delivered'], ['hook-1', 'delivering']]);
  await h.delivered(alert.id, 15_000);
  assert.equal((await deliveriesOf(alert.id)).map((d) => [d.channel, d.outcome, d.last_status]), [['hook-0', 'delivered', 200], ['hook-1', 'delivered', 200]]);
  await h.deliveriesIdle();
  assert.equal([h.hitsAt('/paused'), second.requests.filter((r) => r.path === '/paused').length], [1, 2], 'the paused channel asked again, the other not');
});

test('the sweep settles an alert left delivering after every channel finished, and no alert still waiting or recently changed', async () => {
  const { tenantId, channels } = await twoChannels('settle');
  const [racedAway, waiting, recent] = [h.alertFor(tenantId), h.alertFor(tenantId), h.alertFor(tenantId)];
  for (const a of [racedAway, waiting, recent]) {
    await h.ctx.ledger.receive(a, new Date());
    await h.ctx.ledger.apply([a.id], { outcome: 'delivering', pendingChannels: channels });
  }
  // Two processes recorded racedAway's channels at once, each seeing the other still delivering.
  await superuserQuery(h.db.url, `UPDATE alert_deliveries SET outcome = CASE WHEN channel = 'hook-0' THEN 'delivered' ELSE 'failed' END WHERE alert_id = ANY($1::uuid[])`, [[racedAway.id, recent.id]]);
  await superuserQuery(h.db.url, `UPDATE alert_deliveries SET outcome = 'delivered' WHERE alert_id = $1 AND channel = 'hook-0'`, [waiting.id]);
  await superuserQuery(h.db.url, `UPDATE alert_ledger SET updated_at = now() - interval '5 minutes' WHERE id = ANY($1::uuid[])`, [[racedAway.id, waiting.id]]);
  const result = await sweep({ ...h.ctx, clock: () => new Date() });
  assert.is(result.settled, 1);
  assert.is(await h.outcomeOf(racedAway.id), 'failed', 'one channel failed');
  assert.is(await h.outcomeOf(waiting.id), 'delivering', 'a channel is still delivering');
  assert.is(await h.outcomeOf(recent.id), 'delivering', 'changed within the last minute: its own statements may still settle it');
});

test.run();
