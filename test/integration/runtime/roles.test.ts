// Process roles in one test process, on one database and queue prefix: `api` serves the
// /v1 API and Bull Board and takes no job (an entry it accepts waits); `scheduler`
// schedules the repeatable jobs and serves only probes and metrics, with readiness on
// Redis alone and no master key needed; a second scheduler stands by; `worker` takes the
// waiting entry and commits it, serving probes and metrics but no API. /readyz names the
// role (and active or standby for a scheduler); bulwark_scheduler_leader sums to 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import type { Config } from '../../../lib/config.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/index.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { registry } from '../../../workers/registry.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { scrapeMetric } from '../../helpers/worker-process.js';

let db: TestDatabase;
let config: Config;
const running: RunningBulwark[] = [];
const logs = { api: captureLogs(), scheduler: captureLogs(), standby: captureLogs(), worker: captureLogs() };
let api: RunningBulwark;
let scheduler: RunningBulwark;
let standby: RunningBulwark;
let key: string;
const SCHEDULED = registry.filter((r) => r.job.schedule).length;

const readyz = async (b: RunningBulwark) => {
  const res = await fetch(`${b.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { checks: object } };
};
async function start(role: 'api' | 'worker' | 'scheduler', log: ReturnType<typeof captureLogs>, over = config) {
  const b = await startBulwark(over, { role, logDestination: log.stream });
  running.push(b);
  return b;
}

test.before(
  setup(async () => {
    db = await createTestDatabase();
    config = testConfig(db.url, { LOG_LEVEL: 'info' });
    api = await start('api', logs.api);
    const tenant = await createTenant(api.ctx.prisma, { name: 'roles' });
    key = (
      await createApiKey(
        api.ctx.prisma,
        { tenantId: tenant.id, name: 'k', scopes: ['audit:write'] },
        {
          type: 'system',
          id: 'test',
        },
      )
    ).key;
  }),
);
test.after(
  cleanup([
    ['stop', () => Promise.all(running.map((b) => b.stop()))],
    ['queues', () => config && obliterateQueues(config.queuePrefix)],
    ['database', () => db?.drop()],
  ]),
);

test('api: the /v1 API accepts an entry that no worker of this process takes; no schedule is written', async () => {
  assert.is(api.ctx.config.queuePrefix, config.queuePrefix);
  const res = await fetch(`${api.url}/v1/audit`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ actorType: 'user', actorId: 'u', action: 'role:api', resourceType: 'r', resourceId: '1' }),
  });
  assert.is(res.status, 202);
  const { jobId } = (await res.json()) as { jobId: string };
  const q = new Queue(AUDIT_WRITE_QUEUE, { connection: api.ctx.redis, prefix: config.queuePrefix });
  try {
    assert.is(await q.getJobState(jobId), 'waiting');
    assert.is((await q.getJobSchedulers()).length, 0);
  } finally {
    await q.close();
  }
  const { status, body } = await readyz(api);
  assert.is(status, 200);
  assert.is(body.role, 'api');
  assert.is(body.scheduler, undefined);
  assert.equal(Object.keys(body.checks).sort(), ['accepting', 'migrations', 'object_store', 'postgres', 'redis']);
  assert.is((await fetch(`${api.url}/admin/queues`)).status, 401, 'Bull Board is served (closed without operator)');
});

test('scheduler: schedules every repeatable job, serves probes and metrics only, needs Redis alone and no master key', async () => {
  scheduler = await start('scheduler', logs.scheduler, { ...config, masterKeys: undefined });
  const { status, body } = await readyz(scheduler);
  assert.is(status, 200);
  assert.equal([body.role, body.scheduler], ['scheduler', 'active']);
  assert.equal(Object.keys(body.checks).sort(), ['accepting', 'redis']);
  const upserted = logs.scheduler.events().filter((e) => e.event === 'scheduler_started');
  assert.is(upserted.length, SCHEDULED);
  assert.ok(upserted.every((e) => e.reason === 'new'));
  assert.is((await fetch(`${scheduler.url}/v1/audit`)).status, 404);
  assert.is((await fetch(`${scheduler.url}/admin/queues`)).status, 404);
  assert.is(await scrapeMetric(scheduler.url!, 'bulwark_scheduler_leader'), 1);
  assert.is(await scrapeMetric(api.url!, 'bulwark_scheduler_leader'), 0);
});

test('a second scheduler stands by and writes nothing', async () => {
  standby = await start('scheduler', logs.standby);
  const { body } = await readyz(standby);
  assert.is(body.scheduler, 'standby');
  assert.ok(logs.standby.events().some((e) => e.event === 'scheduler_standby'));
  assert.not.ok(logs.standby.events().some((e) => e.event === 'scheduler_started'));
  assert.is(await scrapeMetric(standby.url!, 'bulwark_scheduler_leader'), 0);
  assert.is(await scrapeMetric(standby.url!, 'bulwark_scheduler_upserts_total'), 0);
});

test('worker: takes the waiting entry and commits it; probes and metrics, no API', async () => {
  const worker = await start('worker', logs.worker);
  await waitFor(
    async () =>
      (await superuserQuery(db.url, `SELECT count(*)::int AS n FROM audit_log WHERE action = 'role:api'`)).rows[0].n ===
      1,
    'the entry committed by the worker',
    30_000,
    100,
  );
  const { status, body } = await readyz(worker);
  assert.is(status, 200);
  assert.equal([body.role, body.scheduler], ['worker', undefined]);
  assert.is((await fetch(`${worker.url}/v1/audit`)).status, 404);
  assert.ok((await scrapeMetric(worker.url!, 'bulwark_jobs_completed_total')) >= 1);
  assert.is(await scrapeMetric(worker.url!, 'bulwark_scheduler_leader'), 0);
});

test('the active scheduler stopping hands over to the standby at once (the lease is given up)', async () => {
  await scheduler.stop();
  await waitFor(async () => (await readyz(standby)).body.scheduler === 'active', 'the standby active', 30_000, 100);
  // Every schedule was in place: taking over writes none of them again.
  assert.is(await scrapeMetric(standby.url!, 'bulwark_scheduler_upserts_total'), 0);
});

test.run();
