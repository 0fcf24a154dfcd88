// Quiet hours across Europe/Berlin's 2026 daylight-saving changes, through the whole
// pipeline (producer → alert queue → worker → ledger → digest → webhook receiver), with
// the injected clock set to the nights around them. Quiet hours are 22:00–07:00 local,
// deferred; a warning at 23:30 the night before must wait until exactly 07:00 local:
//   spring forward, 29 March 2026 (02:00 CET → 03:00 CEST): 07:00 CEST = 05:00Z;
//   fall back, 25 October 2026 (03:00 CEST → 02:00 CET):  07:00 CET  = 06:00Z.
// A critical alert in the same window is delivered at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { ALERT_DELIVERY_QUEUE } from '../../../lib/contracts/alert-delivery.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { bulwarkTeardown, cleanup } from '../../helpers/lifecycle.js';
import { promoteDelayedJobs, queueIdle } from '../../helpers/queues.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

const ZONE = 'Europe/Berlin';
const system = { type: 'system' as const, id: 'test' };
let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let receiver: Receiver;
const logs = captureLogs();

// The injected clock runs at real speed from wherever a test puts it.
let offset = 0;
const clock = () => new Date(Date.now() + offset);
const setClock = (iso: string) => void (offset = Date.parse(iso) - Date.now());
const local = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, dateStyle: 'short', timeStyle: 'short', hourCycle: 'h23' }).format(d);

test.before(async () => {
  receiver = await startReceiver();
  db = await createTestDatabase();
  const config = testConfig(db.url, { SETTINGS_CACHE_MS: '0', LOG_LEVEL: 'info' });
  bulwark = await startBulwark(config, { http: false, scheduler: false, clock, logDestination: logs.stream });
  producer = createProducer({ queuePrefix: config.queuePrefix, clock });
});
test.after(cleanup([...bulwarkTeardown(() => ({ producer, bulwark, db })), ['close receiver', () => receiver?.close()]]));

interface Night {
  name: string;
  /** 23:30 local the evening before the change, in UTC. */
  eveningZ: string;
  /** 00:15 local, still inside quiet hours, in UTC. */
  criticalZ: string;
  /** 01:30Z: 03:30 CEST just after the spring jump; 02:30 CET, the repeated hour, in autumn. */
  shiftedHourZ: string;
  /** 07:00 local on the morning after the change, in UTC. */
  expectedUntilZ: string;
}

const ledger = async (tenantId: string) =>
  (await superuserQuery(db.url, `SELECT title, severity, outcome, reason, defer_until, delivered_at, channel FROM alert_ledger WHERE tenant_id = $1 ORDER BY occurred_at`, [tenantId])).rows;

async function quietNight(n: Night): Promise<void> {
  const path = `/${n.name}`;
  const atPath = () => receiver.requests.filter((r) => r.path === path);
  const t = await createTenant(bulwark.ctx.prisma, { name: `dst-${n.name}`, timezone: ZONE });
  await updateTenantSettings(bulwark.ctx.prisma, t.id, {
    alerts: { cooldownSeconds: 0, userThrottle: { limit: 0 }, quietHours: { enabled: true, start: '22:00', end: '07:00', mode: 'defer', bypassSeverity: 'critical' } },
  }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'hook', value: `dst-signing-secret-${n.name}` }, system);
  await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: 'ops', type: 'webhook', target: `${receiver.url}${path}`, secretRef: 'secret://hook' }, system, LOOPBACK_TARGETS);

  setClock(n.eveningZ);
  assert.match(local(clock()), '23:30', 'the clock reads 23:30 in Berlin');
  await producer.alert.send({ tenantId: t.id, type: 'disk.filling', severity: 'warning', title: `Disk filling (${n.name} evening)` });
  const expected = Date.parse(n.expectedUntilZ);
  await waitFor(async () => (await ledger(t.id)).find((r) => r.outcome === 'deferred'), 'the evening warning deferred');

  setClock(n.criticalZ);
  await producer.alert.send({ tenantId: t.id, type: 'breach', severity: 'critical', title: `Possible breach (${n.name})` });
  await waitFor(async () => atPath().length >= 1 || undefined, 'the critical alert at once');
  await waitFor(async () => (await ledger(t.id)).find((r) => r.severity === 'critical' && r.outcome === 'delivered'), 'the critical alert delivered');

  setClock(n.shiftedHourZ);
  await producer.alert.send({ tenantId: t.id, type: 'queue.slow', severity: 'warning', title: `Queue slow (${n.name} night)` });
  const deferred = await waitFor(async () => {
    const rows = (await ledger(t.id)).filter((r) => r.severity === 'warning');
    return rows.length === 2 && rows.every((r) => r.outcome === 'deferred') ? rows : undefined;
  }, 'both warnings deferred');
  for (const r of deferred) {
    assert.is(r.reason, 'quiet_hours');
    assert.is(new Date(r.defer_until).toISOString(), new Date(expected).toISOString(), `${r.title}: deferred until 07:00 local`);
  }
  assert.match(local(new Date(expected)), '07:00');
  assert.is(atPath().length, 1, 'only the critical alert went out during quiet hours');
  assert.match(atPath()[0]!.body, `Possible breach (${n.name})`);

  // Past 07:00 local: BullMQ's delay runs on real time, so promote what is due.
  setClock(new Date(expected + 1_000).toISOString());
  await promoteDelayedJobs(bulwark.ctx.config.queuePrefix);
  await waitFor(async () => atPath().length >= 2 || undefined, 'the digest');
  const digest = atPath()[1]!.body;
  assert.match(digest, `Disk filling (${n.name} evening)`);
  assert.match(digest, `Queue slow (${n.name} night)`, 'one digest lists both deferred warnings');
  assert.not.match(digest, 'Possible breach', 'the critical alert is not sent twice');
  const rows = await waitFor(async () => {
    const r = (await ledger(t.id)).filter((x) => x.severity === 'warning');
    return r.every((x) => x.outcome === 'delivered') ? r : undefined;
  }, 'the warnings delivered');
  for (const r of rows) {
    assert.is(r.channel, 'ops');
    assert.ok(new Date(r.delivered_at).getTime() >= expected, 'delivered once the clock passed 07:00 local');
  }
  // Every delivery job due has finished: a second digest would have arrived by now.
  const deliveries = new Queue(ALERT_DELIVERY_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
  try {
    await queueIdle(deliveries);
  } finally {
    await deliveries.close();
  }
  assert.is(atPath().length, 2, 'exactly one digest');
}

test('DST spring forward (29 March 2026): a warning at 23:30 CET waits until 07:00 CEST = 05:00Z; critical bypasses', () =>
  quietNight({ name: 'spring', eveningZ: '2026-03-28T22:30:00Z', criticalZ: '2026-03-28T23:15:00Z', shiftedHourZ: '2026-03-29T01:30:00Z', expectedUntilZ: '2026-03-29T05:00:00Z' }));

test('DST fall back (25 October 2026): a warning at 23:30 CEST waits until 07:00 CET = 06:00Z; critical bypasses', () =>
  quietNight({ name: 'fall', eveningZ: '2026-10-24T21:30:00Z', criticalZ: '2026-10-24T22:15:00Z', shiftedHourZ: '2026-10-25T01:30:00Z', expectedUntilZ: '2026-10-25T06:00:00Z' }));

test.run();
