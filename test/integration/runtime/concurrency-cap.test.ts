// The contract's concurrency is a cap: with many jobs queued, one worker process never
// runs more of a queue's jobs at once than its policy's `concurrency`.
//  - audit-write in a real worker process: commits are held back by a row lock on the
//    tenant's chain head, so every job the worker takes stays active; BullMQ's active
//    list, sampled throughout, climbs to exactly auditWritePolicy.concurrency (200)
//    and no further, then drains with the same ceiling once the lock goes.
//  - alert and alert-delivery through createQueueWorker, the factory every queue's
//    worker comes from, with a processor that counts its own concurrent runs exactly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { ALERT_QUEUE, alertPolicy } from '../../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE, alertDeliveryPolicy } from '../../../lib/contracts/alert-delivery.js';
import { AUDIT_WRITE_QUEUE, auditWritePolicy } from '../../../lib/contracts/audit.js';
import type { QueuePolicy } from '../../../lib/contracts/common.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { createContext } from '../../../app/main.js';
import { createQueueWorker } from '../../../app/runtime/queue-worker.js';
import { countRows } from '../../helpers/audit-db.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, randomPrefix, testConfig, waitFor, withTimeout } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { killWorker, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const prefix = randomPrefix('concurrency');
let db: TestDatabase;
let prisma: PrismaClient;
let producer: Producer;
let redis: Redis;
const spawned: WorkerProcess[] = [];

test.before(
  setup(async () => {
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
    // Without fair dispatch: its per-tenant maxRunning (100) would cap this one tenant's jobs first.
    producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: prefix, fair: false });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  }),
);

test.after(
  cleanup([
    ['kill workers', () => Promise.all(spawned.map(killWorker))],
    ['close producer', () => producer?.close()],
    ['quit redis', () => redis?.quit()],
    ['obliterate queues', () => obliterateQueues(prefix)],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

/** Reads `read` back to back until stopped; keeps the largest value seen. */
function sampler(read: () => Promise<number>) {
  let max = 0;
  let reads = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      max = Math.max(max, await read());
      reads++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    get max() {
      return max;
    },
    get reads() {
      return reads;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

test('audit-write: a worker process holds at most the policy concurrency (200) jobs active, filling up and draining', async () => {
  const CAP = auditWritePolicy.concurrency;
  const JOBS = CAP * 2;
  const tenant = (await createTenant(prisma, { name: 'concurrency' })).id;
  const before = await countRows(db.url);
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix });
  // The chain head locked in an open transaction: every commit for the tenant waits.
  const lock = new pg.Client({ connectionString: db.url });
  await lock.connect();
  const active = sampler(() => queue.getActiveCount());
  try {
    await lock.query('BEGIN');
    await lock.query('SELECT 1 FROM audit_chain_heads WHERE tenant_id = $1 FOR UPDATE', [tenant]);
    // One single-entry job each (the most jobs the adaptive concurrency allows at once).
    for (let i = 0; i < JOBS; i++) await producer.audit.writeMany([entry(tenant)]);
    assert.is(await queue.getWaitingCount(), JOBS);

    // Jobs stay active for a while here and nothing waits for a lock to lapse: a long job
    // lock, so a renewal held back on a busy machine does not move a job back (stalled).
    const worker = await spawnWorker(workerEnv(db.url, prefix, { WORKER_LOCK_DURATION_MS: '30000' }));
    spawned.push(worker);
    await waitFor(async () => (await queue.getActiveCount()) >= CAP, `${CAP} jobs active`, 60_000, 20);
    // Full, with JOBS - CAP still waiting: it stays exactly at the cap read after read,
    // and nothing completes while the lock holds.
    const held: number[] = [];
    for (let i = 0; i < 40; i++) held.push(await queue.getActiveCount());
    assert.equal([...new Set(held)], [CAP], `active counts while held: ${[...new Set(held)].join(',')}`);
    assert.equal(await queue.getJobCounts('waiting', 'completed', 'failed'), {
      waiting: JOBS - CAP,
      completed: 0,
      failed: 0,
    });

    await lock.query('COMMIT');
    await waitFor(
      async () => {
        const c = await queue.getJobCounts('completed', 'failed');
        return c.completed === JOBS || c.failed! > 0 ? c : undefined;
      },
      'every job finished',
      90_000,
      50,
    );
    await active.stop();
    assert.equal(await queue.getJobCounts('completed', 'failed', 'active', 'waiting'), {
      completed: JOBS,
      failed: 0,
      active: 0,
      waiting: 0,
    });
    assert.is(active.max, CAP, `largest active count in ${active.reads} reads`);
    assert.is((await countRows(db.url)) - before, JOBS);
    worker.kill('SIGTERM');
    assert.equal(
      await withTimeout(worker.exited, 30_000, 'the worker exiting'),
      { code: 0, signal: null },
      worker.stderr(),
    );
  } finally {
    await active.stop();
    await lock.end();
    await queue.close();
  }
});

/** A worker from createQueueWorker whose processor counts how many of its runs overlap. */
async function observeFactoryWorker(
  queueName: string,
  policy: QueuePolicy,
  jobs: number,
): Promise<{ max: number; runningWhenFull: number; waitingWhenFull: number }> {
  // A prefix of its own: no other worker may take these jobs.
  const own = randomPrefix('cap-factory');
  const ctx = createContext(testConfig(db.url, { QUEUE_PREFIX: own }));
  const queue = new Queue(queueName, { connection: redis, prefix: own });
  let running = 0;
  let max = 0;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const worker = createQueueWorker<{ n: number }, number>(ctx, {
    queue: queueName,
    policy,
    processor: async (job) => {
      running++;
      max = Math.max(max, running);
      try {
        await gate;
        return job.data.n;
      } finally {
        running--;
      }
    },
  });
  try {
    await queue.addBulk(Array.from({ length: jobs }, (_, n) => ({ name: 'cap-probe', data: { n } })));
    void worker.run();
    await waitFor(
      async () => running >= policy.concurrency,
      `${policy.concurrency} ${queueName} jobs running`,
      30_000,
      20,
    );
    // Read back to back from Redis while every running job is held: no run starts meanwhile.
    for (let i = 0; i < 20; i++) await queue.getActiveCount();
    const full = { runningWhenFull: running, waitingWhenFull: await queue.getWaitingCount() };
    open();
    await waitFor(
      async () => ((await queue.getCompletedCount()) === jobs ? true : undefined),
      `all ${queueName} jobs completed`,
      60_000,
    );
    return { max, ...full };
  } finally {
    open();
    await worker.close();
    await queue.close();
    await ctx.redis.quit();
    await ctx.prisma.$disconnect();
    await ctx.pg.end();
    await obliterateQueues(own);
  }
}

test('alert and alert-delivery workers from the factory run at most their policy concurrency at once', async () => {
  for (const [name, policy] of [
    [ALERT_QUEUE, alertPolicy],
    [ALERT_DELIVERY_QUEUE, alertDeliveryPolicy],
  ] as const) {
    const jobs = policy.concurrency * 3;
    const seen = await observeFactoryWorker(name, policy, jobs);
    assert.equal(
      seen,
      { max: policy.concurrency, runningWhenFull: policy.concurrency, waitingWhenFull: jobs - policy.concurrency },
      name,
    );
  }
});

test.run();
