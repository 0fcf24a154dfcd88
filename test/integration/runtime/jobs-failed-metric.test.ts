// bulwark_jobs_failed_total counts failed job attempts on /metrics: final="false" while
// the job has a retry left, final="true" for its last attempt, and final="true" at once
// for a job that can never succeed (UnrecoverableError), whatever attempts it has left.
// The audit-write worker is real; Postgres refuses one action through a CHECK
// constraint added to this file's own database, so the failure is a real one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { AUDIT_WRITE_JOB, AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { bulwarkTeardown, cleanup, setup } from '../../helpers/lifecycle.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let queue: Queue;
let tenantId: string;
const logs = captureLogs();

test.before(
  setup(async () => {
    db = await createTestDatabase();
    await superuserQuery(db.url, `ALTER TABLE audit_log ADD CONSTRAINT test_refuses_action CHECK (action <> 'test:refused')`);
    bulwark = await startBulwark(testConfig(db.url, { LOG_LEVEL: 'warn' }), { scheduler: false, logDestination: logs.stream });
    queue = new Queue(AUDIT_WRITE_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
    tenantId = (await createTenant(bulwark.ctx.prisma, { name: 'failed-metric' })).id;
  }),
);
test.after(cleanup([['close queue', () => queue?.close()], ...bulwarkTeardown(() => ({ bulwark, db }))]));

/** The audit-write samples of bulwark_jobs_failed_total on /metrics, keyed `queue/final`. */
async function failedSamples(): Promise<Record<string, number>> {
  const res = await fetch(`${bulwark.url}/metrics`);
  assert.is(res.status, 200);
  const samples: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^bulwark_jobs_failed_total\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.queue !== AUDIT_WRITE_QUEUE) continue;
    samples[`${labels.queue}/${labels.final}`] = Number(m[2]);
  }
  return samples;
}

const jobFailedEvents = (jobId: string) =>
  logs.events().filter((e) => e.event === 'job_failed' && e.job_id === jobId).map((e) => ({ attempts_made: e.attempts_made, final: e.final }));

const full = (overrides: Parameters<typeof entry>[1] = {}) => entry(tenantId, { eventId: randomUUID(), occurredAt: new Date().toISOString(), ...overrides });

test('nothing has failed yet: both series exist at 0', async () => {
  const ok = await queue.add(AUDIT_WRITE_JOB, { v: 1, entries: [full()] });
  await waitFor(async () => ((await ok.getState()) === 'completed' ? true : undefined), 'a good job completed');
  assert.equal(await failedSamples(), { 'audit-write/false': 0, 'audit-write/true': 0 });
});

test('a retryable failure counts final="false", its last attempt final="true"', async () => {
  const job = await queue.add(AUDIT_WRITE_JOB, { v: 1, entries: [full({ action: 'test:refused' })] }, { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
  await waitFor(async () => ((await failedSamples())['audit-write/true'] ? true : undefined), 'the last attempt counted');
  assert.equal(await failedSamples(), { 'audit-write/false': 1, 'audit-write/true': 1 });
  const failed = await queue.getJob(job.id!);
  assert.is(await failed?.getState(), 'failed');
  assert.is(failed?.attemptsMade, 2);
  assert.match(failed?.failedReason ?? '', 'test_refuses_action');
  assert.equal(jobFailedEvents(job.id!), [
    { attempts_made: 1, final: false },
    { attempts_made: 2, final: true },
  ]);
});

test('an unrecoverable failure counts final="true" on its first attempt, with attempts left', async () => {
  const job = await queue.add(AUDIT_WRITE_JOB, { v: 1, entries: [] }, { attempts: 5, backoff: { type: 'fixed', delay: 100 } });
  await waitFor(async () => ((await failedSamples())['audit-write/true'] === 2 ? true : undefined), 'the unrecoverable failure counted');
  assert.equal(await failedSamples(), { 'audit-write/false': 1, 'audit-write/true': 2 });
  const failed = await queue.getJob(job.id!);
  assert.is(await failed?.getState(), 'failed');
  assert.is(failed?.attemptsMade, 1);
  assert.match(failed?.failedReason ?? '', 'invalid audit-write payload');
  assert.equal(jobFailedEvents(job.id!), [{ attempts_made: 1, final: true }]);
});

test.run();
