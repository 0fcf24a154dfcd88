// Graceful shutdown of the real `bulwark start` process: SIGTERM while jobs run makes
// it stop taking jobs, finish the running ones, close everything and exit 0; a fresh
// worker then drains the rest with nothing lost or doubled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queue } from 'bullmq';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import type { Producer } from '../../../producers/index.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { assertExactChain, countRows, storedEventIds } from '../../helpers/audit-db.js';
import type { TestDatabase } from '../../helpers/db.js';
import { waitFor, withTimeout } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { workerFleet } from '../../helpers/worker-fleet.js';
import { spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const JOBS = 200;
const PER_JOB = 50;
const N = JOBS * PER_JOB;

const fleet = workerFleet({ name: 'shutdown', queue: AUDIT_WRITE_QUEUE });
const spawned = fleet.spawned;
let prefix: string;
let db: TestDatabase;
let prisma: PrismaClient;
let producer: Producer;
let queue: Queue;
let tenant: string;
/** Rows and eventIds present before the test enqueues (creating a tenant may write some). */
let baseline: { rows: number; eventIds: string[] };

test.before(
  setup(async () => {
    ({ prefix, db, prisma, producer, queue, tenantId: tenant, baseline } = await fleet.start());
  }),
);

test.after(cleanup(fleet.cleanupSteps()));

const events = (w: WorkerProcess) =>
  w.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

test('SIGTERM while jobs run: running jobs finish, exit 0; a fresh worker drains the rest', async () => {
  const eventIds: string[] = [...baseline.eventIds];
  for (let j = 0; j < JOBS; j++) {
    const r = await producer.audit.writeMany(Array.from({ length: PER_JOB }, () => entry(tenant)));
    eventIds.push(...r.eventIds);
  }
  const env = workerEnv(db.url, prefix, {
    AUDIT_WRITE_CONCURRENCY: '4',
    AUDIT_BATCH_MAX: String(PER_JOB),
    SHUTDOWN_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'info',
    // Nothing here waits for a lock to lapse; the helpers' 2 s lock lapsed on a machine
    // busy enough to hold back its renewal, and the job failed as stalled.
    WORKER_LOCK_DURATION_MS: '10000',
  });
  const worker = await spawnWorker(env, { cli: true });
  spawned.push(worker);

  const health = await withTimeout(fetch(`${worker.url}/healthz`), 10_000, 'GET /healthz');
  assert.is(health.status, 200);
  assert.equal(await health.json(), { status: 'ok' });

  await waitFor(async () => (await countRows(db.url)) - baseline.rows >= N / 20, 'the first rows', 60_000, 10);
  const active = (await queue.getActive()).map((j) => j.id!);
  worker.kill('SIGTERM');
  // A hang guard well above SHUTDOWN_TIMEOUT_MS, not a timing assertion.
  const exit = await withTimeout(worker.exited, 30_000, 'the worker exiting after SIGTERM');
  assert.equal(exit, { code: 0, signal: null }, worker.stderr());

  const logged = events(worker).map((e) => e.event);
  assert.ok(logged.includes('bulwark_stopping') && logged.includes('bulwark_stopped'), logged.join(','));
  assert.not.ok(logged.includes('shutdown_forced'), 'running jobs finished within the bound');

  // Nothing was abandoned mid-flight: the jobs running at SIGTERM completed, none is left active.
  assert.ok(active.length > 0, 'jobs were running when SIGTERM was sent');
  for (const id of active) assert.is(await queue.getJob(id).then((j) => j?.getState()), 'completed', `job ${id}`);
  const after = await queue.getJobCounts('active', 'failed', 'completed', 'wait');
  assert.equal([after.active, after.failed], [0, 0], JSON.stringify(after));
  assert.ok(after.completed! < JOBS, `all jobs finished before SIGTERM took effect: ${JSON.stringify(after)}`);

  // Exactly the completed jobs' entries are stored: no job was half-written.
  const rows = (await countRows(db.url)) - baseline.rows;
  assert.is(rows, after.completed! * PER_JOB);
  const completed = await queue.getCompleted(0, JOBS);
  const stored = new Set(await storedEventIds(db.url, tenant));
  for (const job of completed) {
    for (const e of (job.data as { entries: Array<{ eventId: string }> }).entries)
      assert.ok(stored.has(e.eventId), `event ${e.eventId} of job ${job.id}`);
  }

  const fresh = await spawnWorker(workerEnv(db.url, prefix, { WORKER_LOCK_DURATION_MS: '10000' }));
  spawned.push(fresh);
  await waitFor(
    async () => {
      const c = await queue.getJobCounts('completed', 'failed');
      return c.completed === JOBS || c.failed! > 0 ? c : undefined;
    },
    'the fresh worker to drain the queue',
    120_000,
    100,
  );
  const failed = await queue.getFailed(0, 5);
  assert.equal(
    await queue.getJobCounts('completed', 'failed'),
    { completed: JOBS, failed: 0 },
    `failed jobs: ${JSON.stringify(failed.map((j) => [j.id, j.attemptsMade, j.failedReason]))}`,
  );
  await assertExactChain(db.url, tenant, eventIds);
  assert.ok((await withTimeout(verifyChains(prisma, { tenantId: tenant }), 60_000, 'verifyChains')).ok);

  fresh.kill('SIGTERM');
  assert.equal(
    await withTimeout(fresh.exited, 30_000, 'the fresh worker exiting'),
    { code: 0, signal: null },
    fresh.stderr(),
  );
});

test.run();
