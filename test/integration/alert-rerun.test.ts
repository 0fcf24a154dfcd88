// A job cut short (its worker died, or it failed and is retried) must leave nothing
// behind that waits for ever, and must not send twice what the cut-short run already
// queued. Each test rebuilds, in the real Redis and Postgres, the state a crash at one
// point leaves, then runs the job again the way BullMQ would (attemptsStarted 2), with
// the delivery worker running, against a recording receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { policyFromSettings } from '../../lib/alerts/decide.js';
import { addChannel } from '../../lib/channels.js';
import { requireMasterKeys } from '../../lib/config.js';
import type { Alert } from '../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE } from '../../lib/contracts/alert-delivery.js';
import { setSecret } from '../../lib/secrets.js';
import { createTenant } from '../../lib/tenants.js';
import { updateTenantSettings } from '../../lib/tenant-settings.js';
import { enqueueDeliveries } from '../../workers/alert/deliver-jobs.js';
import { processDelivery } from '../../workers/alert/delivery.js';
import { createAlertContext } from '../../workers/alert/index.js';
import { processAlert, type AlertContext } from '../../workers/alert/processor.js';
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

/** A tenant with one webhook channel posting to the receiver at `path`, grouping when asked. */
async function tenantWithHook(name: string, path: string, alerts: Record<string, unknown> = {}): Promise<{ tenantId: string; channelId: string }> {
  const t = await createTenant(bulwark.ctx.prisma, { name });
  await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { maxPerWindow: 100, cooldownSeconds: 0, userThrottle: { limit: 0 }, ...alerts } }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'hook', value: 'whsec-rerun-signing-key' }, system);
  await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: 'hook', type: 'webhook', target: `${receiver.url}${path}`, secretRef: 'secret://hook' }, system);
  const channel = await bulwark.ctx.prisma.alertChannel.findFirstOrThrow({ where: { tenantId: t.id } });
  return { tenantId: t.id, channelId: channel.id };
}

const alertFor = (tenantId: string, extra: Partial<Alert> = {}): Alert => ({ id: randomUUID(), tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full', occurredAt: new Date().toISOString(), ...extra });
const firstRun = { id: 'first', attemptsStarted: 1 };
const rerun = { id: 'rerun', attemptsStarted: 2 };
const outcomeOf = async (id: string) => (await superuserQuery(db.url, 'SELECT outcome FROM alert_ledger WHERE id = $1', [id])).rows[0]?.outcome as string | undefined;
const hitsAt = (path: string) => receiver.requests.filter((r) => r.path === path).length;
/** Wait until no delivery is queued, delayed or running: every send made has arrived. */
const deliveriesIdle = () =>
  waitFor(async () => {
    const counts = await ctx.deliveries.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(counts).every((n) => n === 0) || undefined;
  }, 'the alert-delivery queue idle');

test('crash after the hand-over was queued, before the row said so: the re-run keeps the one job, one send', async () => {
  const { tenantId, channelId } = await tenantWithHook('rerun-received', '/a');
  const alert = alertFor(tenantId);
  // What the first run did before dying: the receipt, the decision, the queued send.
  await ctx.ledger.receive(alert, new Date());
  const { settings, timezone } = await ctx.policyInputsOf(tenantId);
  const policy = policyFromSettings({ ...settings.alerts, quietHours: { ...settings.alerts.quietHours, timezone } });
  assert.is((await ctx.decider.decide({ tenantId, alertId: alert.id, type: alert.type, severity: alert.severity }, policy)).outcome, 'deliver');
  await enqueueDeliveries(ctx.deliveries, [{ tenantId, channelId, kind: 'single', alertIds: [alert.id], key: alert.id, delayMs: 300 }]);
  assert.is(await outcomeOf(alert.id), 'received');
  const result = await processAlert({ v: 1, alert }, ctx, rerun);
  assert.is(result.outcome, 'deliver');
  await waitFor(async () => ((await outcomeOf(alert.id)) === 'delivered' ? true : undefined), 'the one delivery');
  await deliveriesIdle();
  assert.is(hitsAt('/a'), 1, 'sent once: the re-run queued no second job and did not send inline');
});

test('a row left delivering with its job gone: the re-run queues the send again and it is delivered', async () => {
  const { tenantId, channelId } = await tenantWithHook('rerun-delivering', '/b');
  const alert = alertFor(tenantId);
  receiver.next(replies.serverError);
  // The first run: the inline attempt gets a 500 and hands over to a deliver job.
  await processAlert({ v: 1, alert }, ctx, firstRun);
  const job = await waitFor(() => ctx.deliveries.getJob(`deliver-${alert.id}-${channelId}`), 'the hand-over job');
  assert.is(await outcomeOf(alert.id), 'delivering');
  await job.remove(); // lost (as by an earlier version that recorded before queuing)
  await processAlert({ v: 1, alert }, ctx, rerun);
  await waitFor(async () => ((await outcomeOf(alert.id)) === 'delivered' ? true : undefined), 'the delivery after the re-run', 15_000);
  assert.is(hitsAt('/b'), 2, 'the failed inline attempt, then the re-queued send');
});

test('group flush cut short after queuing: the re-run finds the rows still grouped, keeps one job, sends once', async () => {
  const { tenantId, channelId } = await tenantWithHook('rerun-group', '/g', { groupWaitSeconds: 60 });
  const alerts = [alertFor(tenantId, { groupKey: 'disks' }), alertFor(tenantId, { groupKey: 'disks' })];
  for (const a of alerts) assert.is((await processAlert({ v: 1, alert: a }, ctx, firstRun)).outcome, 'grouped');
  const groupId = (await superuserQuery(db.url, 'SELECT group_id FROM alert_ledger WHERE id = $1', [alerts[0]!.id])).rows[0].group_id as string;
  const key = `g-${groupId}`;
  // The test runs the flush itself (as the re-run of the scheduled one): drop the scheduled job.
  await (await ctx.deliveries.getJob(`group-${groupId}`))?.remove();
  // The flush queued its send and died before recording the rows as delivering.
  await enqueueDeliveries(ctx.deliveries, [{ tenantId, channelId, kind: 'group', alertIds: alerts.map((a) => a.id), key, delayMs: 300 }]);
  const flush = { name: 'group-flush', data: { v: 1, tenantId, groupId } } as unknown as Job;
  assert.equal(await processDelivery(flush, ctx), { channels: 1 });
  await waitFor(async () => ((await outcomeOf(alerts[1]!.id)) === 'delivered' ? true : undefined), 'the group delivery');
  await deliveriesIdle();
  assert.is(hitsAt('/g'), 1);
  assert.equal([await outcomeOf(alerts[0]!.id), await outcomeOf(alerts[1]!.id)], ['delivered', 'delivered']);
});

test('a late "delivering" never overwrites a row its queued job already finished', async () => {
  const { tenantId } = await tenantWithHook('late-delivering', '/d');
  const alert = alertFor(tenantId);
  await ctx.ledger.receive(alert, new Date());
  await ctx.ledger.apply([alert.id], { outcome: 'delivered', attempts: 1, status: 200, deliveredAt: new Date() });
  await ctx.ledger.apply([alert.id], { outcome: 'delivering' });
  assert.is(await outcomeOf(alert.id), 'delivered');
  await ctx.ledger.apply([alert.id], { outcome: 'failed', reason: 'rejected' });
  await ctx.ledger.apply([alert.id], { outcome: 'delivering' });
  assert.is(await outcomeOf(alert.id), 'failed');
});

test.run();
