// Fair dispatch end to end, Bulwark's workers in this process: tenant A's backlog of
// audit entries (and of alerts) does not hold back tenant B's, which are committed
// (decided) long before A's backlog is through; every entry is stored once, chains
// intact; a change of a tenant's limits in its settings reaches Redis within seconds;
// the gauges report the backlog without tenant ids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { queuesOf } from '../../../app/workers.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { fairKeys } from '../../../lib/fair/kinds.js';
import { readFairStats } from '../../../lib/fair/status.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { registry } from '../../../workers/registry.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { bulwarkTeardown, cleanup, setup } from '../../helpers/lifecycle.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let A: string;
let B: string;
const logs = captureLogs();

const stored = async (tenantId: string, like = '%') =>
  Number(
    (
      await superuserQuery(
        db.url,
        `SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1 AND action = 'task:completed' AND event_id LIKE $2`,
        [tenantId, like],
      )
    ).rows[0].n,
  );
const decided = async (tenantId: string) =>
  Number(
    (
      await superuserQuery(
        db.url,
        `SELECT count(*) AS n FROM alert_ledger WHERE tenant_id = $1 AND outcome <> 'received'`,
        [tenantId],
      )
    ).rows[0].n,
  );

test.before(
  setup(async () => {
    db = await createTestDatabase();
    // A small window: A's backlog is mostly parked, so B's turn comes quickly.
    const config = testConfig(db.url, { FAIR_AUDIT_WINDOW: '400', FAIR_ALERT_WINDOW: '4', AUDIT_BATCH_MAX: '200' });
    bulwark = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream });
    A = (await createTenant(bulwark.ctx.prisma, { name: 'fair-a' })).id;
    B = (await createTenant(bulwark.ctx.prisma, { name: 'fair-b' })).id;
    producer = createProducer({ redisUrl: config.redisUrl, queuePrefix: config.queuePrefix });
  }),
);

test.after(cleanup([...bulwarkTeardown(() => ({ producer, bulwark, db }))]));

test("B's entries are committed while A's backlog is still being worked through; all stored once, chains intact", async () => {
  const jobs = 60;
  const perJob = 100;
  for (let j = 0; j < jobs; j++)
    await producer.audit.writeMany(Array.from({ length: perJob }, (_x, k) => entry(A, { eventId: `a-${j}-${k}` })));
  const stats = (await readFairStats(bulwark.ctx.redis, bulwark.ctx.config.queuePrefix, queuesOf(registry))).find(
    (s) => s.queue === AUDIT_WRITE_QUEUE,
  )!.stats;
  assert.ok(stats.parkedJobs > 0, 'A has jobs parked');
  for (let i = 0; i < 5; i++) await producer.audit.write(entry(B, { eventId: `b-${i}` }));
  await waitFor(async () => (await stored(B, 'b-%')) === 5, "B's entries to be committed", 60_000, 10);
  const aThen = await stored(A, 'a-%');
  assert.ok(aThen < jobs * perJob, `A had ${aThen} of ${jobs * perJob} committed when B was done`);
  await waitFor(async () => (await stored(A, 'a-%')) === jobs * perJob, "A's backlog to be committed", 120_000);
  const report = await verifyChains(bulwark.ctx.prisma);
  assert.ok(report.ok, JSON.stringify(report.tenants.filter((t) => !t.ok)));
  const after = (await readFairStats(bulwark.ctx.redis, bulwark.ctx.config.queuePrefix, queuesOf(registry))).find(
    (s) => s.queue === AUDIT_WRITE_QUEUE,
  )!.stats;
  assert.equal([after.parkedJobs, after.tenantsWaiting], [0, 0]);
  await waitFor(
    async () =>
      (await readFairStats(bulwark.ctx.redis, bulwark.ctx.config.queuePrefix, queuesOf(registry)))[0]!.stats
        .inFlight === 0,
    'every slot freed',
  );
});

test("B's alert is decided before A's backlog of alerts is", async () => {
  const n = 120;
  await Promise.all(
    Array.from({ length: n }, (_x, i) =>
      producer.alert.send({ tenantId: A, type: 'disk.full', severity: 'warning', title: `A ${i}` }),
    ),
  );
  await producer.alert.send({ tenantId: B, type: 'disk.full', severity: 'warning', title: 'B' });
  await waitFor(async () => (await decided(B)) === 1, "B's alert to be decided", 60_000, 10);
  const aThen = await decided(A);
  assert.ok(aThen < n, `A had ${aThen} of ${n} decided when B's was`);
  await waitFor(async () => (await decided(A)) === n, "A's alerts to be decided", 120_000);
});

test('the gauges report backlog, tenants waiting and the largest backlog per queue, no tenant id', async () => {
  const text = await bulwark.ctx.metrics.registry.metrics();
  for (const name of [
    'bulwark_fair_backlog_age_seconds',
    'bulwark_fair_tenants_waiting',
    'bulwark_fair_largest_tenant_backlog_jobs',
    'bulwark_fair_starved_wait_seconds',
  ])
    assert.match(text, new RegExp(`^${name}\\{queue="audit-write"\\} \\d`, 'm'), name);
  assert.not.match(text, A);
});

test("a change of a tenant's limits in its settings reaches Redis within seconds", async () => {
  await producer.audit.write(entry(A));
  await updateTenantSettings(
    bulwark.ctx.prisma,
    A,
    { jobs: { auditWrite: { maxRunning: 3, perSecond: 50 } } },
    {
      type: 'user',
      id: 'test',
    },
  );
  const limitsKey = fairKeys(bulwark.ctx.config.queuePrefix, AUDIT_WRITE_QUEUE)[7]!;
  await waitFor(async () => (await bulwark.ctx.redis.hget(limitsKey, A)) === '3|50', 'the new limits in Redis', 15_000);
  // Back to the defaults: the override goes.
  await updateTenantSettings(
    bulwark.ctx.prisma,
    A,
    { jobs: { auditWrite: { maxRunning: 100, perSecond: 20000 } } },
    {
      type: 'user',
      id: 'test',
    },
  );
  await waitFor(async () => (await bulwark.ctx.redis.hget(limitsKey, A)) === null, 'the override removed', 15_000);
});

test.run();
