// A worker process SIGKILLed in the middle of the work, then a new one started: its
// stalled jobs are retried and nothing is lost or written twice; the chain verifies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queue } from 'bullmq';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import type { Producer } from '../../../producers/index.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { assertExactChain, countRows } from '../../helpers/audit-db.js';
import type { TestDatabase } from '../../helpers/db.js';
import { waitFor, withTimeout } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { workerFleet } from '../../helpers/worker-fleet.js';
import { killWorker, scrapeMetric, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const JOBS = 200;
const PER_JOB = 50;
const N = JOBS * PER_JOB;

const fleet = workerFleet({ name: 'crash', queue: AUDIT_WRITE_QUEUE });
let prefix: string;
let db: TestDatabase;
let prisma: PrismaClient;
let producer: Producer;
let queue: Queue;
let first: WorkerProcess | undefined;
let second: WorkerProcess | undefined;
let tenant: string;
/** Rows and eventIds present before the test enqueues (creating a tenant may write some). */
let baseline: { rows: number; eventIds: string[] };

test.before(
  setup(async () => {
    ({ prefix, db, prisma, producer, queue, tenantId: tenant, baseline } = await fleet.start());
  }),
);

test.after(
  cleanup([
    ['kill workers', () => Promise.all([killWorker(first), killWorker(second)])],
    ...fleet.cleanupSteps(),
  ]),
);

test('SIGKILL mid-batch, then a restart: no entry lost, none duplicated, chain intact', async () => {
  const eventIds: string[] = [...baseline.eventIds];
  for (let j = 0; j < JOBS; j++) {
    const r = await producer.audit.writeMany(Array.from({ length: PER_JOB }, () => entry(tenant)));
    eventIds.push(...r.eventIds);
  }
  assert.is(new Set(eventIds).size, baseline.eventIds.length + N);

  // Small transactions and a few jobs at a time, so the kill lands mid-stream.
  const env = workerEnv(db.url, prefix, { AUDIT_WRITE_CONCURRENCY: '4', AUDIT_BATCH_MAX: String(PER_JOB) });
  first = await spawnWorker(env);
  const atKill = await waitFor(async () => {
    const n = (await countRows(db.url)) - baseline.rows;
    return n >= N / 20 ? n : undefined;
  }, 'the first rows', 60_000, 10);
  first.kill('SIGKILL');
  const exit = await withTimeout(first.exited, 10_000, 'killed worker exit');
  assert.is(exit.signal, 'SIGKILL');
  assert.ok(atKill < N, `the worker finished everything (${atKill}) before it could be killed`);

  // The killed process left jobs behind: some active (their locks will expire), the rest waiting.
  const left = await queue.getJobCounts('active', 'wait', 'completed');
  assert.ok(left.active! > 0, `no job was running when the worker was killed: ${JSON.stringify(left)}`);
  assert.ok(left.completed! < JOBS, JSON.stringify(left));

  second = await spawnWorker(env);
  await waitFor(async () => {
    const c = await queue.getJobCounts('completed', 'failed');
    return c.completed === JOBS || c.failed! > 0 ? c : undefined;
  }, 'every job to finish', 120_000, 100);
  const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
  assert.equal(counts, { completed: JOBS, failed: 0, active: 0, wait: 0, delayed: 0 });

  assert.is(await countRows(db.url), baseline.rows + N);
  await assertExactChain(db.url, tenant, eventIds);
  const report = await withTimeout(verifyChains(prisma, { tenantId: tenant }), 60_000, 'verifyChains');
  assert.ok(report.ok, JSON.stringify(report));

  // The restarted worker wrote what the killed one had not, and nothing twice.
  const written = await scrapeMetric(second.url, 'bulwark_audit_entries_written_total');
  assert.ok(written > 0 && written <= N - atKill, `second worker wrote ${written}; ${atKill} rows existed at the kill`);
});

test.run();
