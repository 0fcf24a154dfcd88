// The generic dispatch of app/workers.ts: a queue's worker finds each job's registration
// by name and validates its payload against the job's schema before the processor runs.
// A job of a name the queue does not know, or with a payload its schema refuses, can
// never succeed: it fails at its first attempt (UnrecoverableError), attempts left or
// not, with a reason naming the queue, the job and each bad field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue, type Job } from 'bullmq';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { auditVerifyJob } from '../../../lib/contracts/audit.js';
import { retentionTenantJob } from '../../../lib/contracts/retention.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { bulwarkTeardown, cleanup, setup } from '../../helpers/lifecycle.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let verify: Queue;
let retention: Queue;
const logs = captureLogs();

test.before(
  setup(async () => {
    db = await createTestDatabase();
    bulwark = await startBulwark(testConfig(db.url, { LOG_LEVEL: 'warn' }), {
      scheduler: false,
      http: false,
      logDestination: logs.stream,
    });
    const opts = { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix };
    verify = new Queue(auditVerifyJob.queue.name, opts);
    retention = new Queue(retentionTenantJob.queue.name, opts);
  }),
);
test.after(
  cleanup([
    ['close queues', () => Promise.all([verify?.close(), retention?.close()])],
    ...bulwarkTeardown(() => ({ bulwark, db })),
  ]),
);

/** The job once it has failed: its attempts and reason. */
async function failed(queue: Queue, job: Job): Promise<{ attemptsMade: number; reason: string }> {
  // The state first, then the job: a job read before its state turned failed is stale
  // (no attempt counted yet).
  await waitFor(async () => (await queue.getJobState(job.id!)) === 'failed', `job ${job.id} failed`);
  const done = (await queue.getJob(job.id!))!;
  return { attemptsMade: done.attemptsMade, reason: done.failedReason };
}

const retries = { attempts: 5, backoff: { type: 'fixed' as const, delay: 100 } };

test('a job of a name its queue does not know fails at its first attempt, naming the queue and the name', async () => {
  const job = await verify.add('no-such-job', { v: 1 }, retries);
  assert.equal(await failed(verify, job), { attemptsMade: 1, reason: 'unknown audit-verify job "no-such-job"' });
});

test("a payload the job's schema refuses fails at its first attempt, naming each bad field", async () => {
  const job = await verify.add(auditVerifyJob.name, { v: 2, tenantId: 'not-a-uuid' }, retries);
  const { attemptsMade, reason } = await failed(verify, job);
  assert.is(attemptsMade, 1);
  assert.match(reason, /^invalid audit-verify job "verify": /);
  assert.match(reason, 'v: ');
  assert.match(reason, 'tenantId: must be a UUID');
});

test('a fair queue dispatches the same way: an invalid retention tenant job fails at once', async () => {
  const job = await retention.add(retentionTenantJob.name, { v: 1, runId: 'r', tenantId: 'x' }, retries);
  const { attemptsMade, reason } = await failed(retention, job);
  assert.is(attemptsMade, 1);
  assert.match(reason, /^invalid retention job "tenant": /);
});

test('each of those failures is logged as final', () => {
  const finals = logs.events().filter((e) => e.event === 'job_failed' && e.final === true);
  assert.ok(finals.length >= 3, JSON.stringify(finals));
});

test.run();
