// stopWorkers while jobs flow: every job a worker fetched is finished, none is left
// active (stuck until its lock runs out, then run a second time) and none is lost.
//
// The stop begins right after a job completes, on the next turn of the event loop:
// the processors are synchronous, so none is running then, while the completions of
// the other jobs are in flight to Redis, each fetching the next job as it completes
// (BullMQ's fetch-next). The old stop (pause(true), wait until our count of running
// processors reads 0, close(true)) saw 0 at once and closed forcibly; those fetched
// jobs then ran their processors but were never moved to completed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue, type Worker } from 'bullmq';
import type { QueuePolicy } from '../../../lib/contracts/common.js';
import { createContext } from '../../../app/main.js';
import { createQueueWorker } from '../../../app/runtime/queue-worker.js';
import { stopWorkers } from '../../../app/runtime/stop-workers.js';
import { ADMIN_URL } from '../../helpers/db.js';
import { randomPrefix, testConfig, withTimeout } from '../../helpers/env.js';
import { cleanup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

const QUEUE = 'stop-probe';
const JOBS = 3000;
/** The stop begins after this many completions: well into the flow, far from its end. */
const STOP_AFTER = 300;
const policy: QueuePolicy = {
  attempts: 1,
  backoff: { type: 'fixed', delay: 1000 },
  // Several fetches in flight at any moment, each one a job the stop must not strand.
  concurrency: 8,
  limiter: { max: 1_000_000, duration: 1000 },
  removeOnComplete: { count: JOBS },
  removeOnFail: { count: JOBS },
};

const prefix = randomPrefix('stop-workers');
// The probe never queries the database; the context only needs a URL for its pool.
const ctx = createContext(testConfig(ADMIN_URL, { QUEUE_PREFIX: prefix }));
const queue = new Queue(QUEUE, { connection: ctx.redis, prefix });
let worker: Worker<{ n: number }, number> | undefined;

test.after(
  cleanup([
    // Already closed by the stop, unless the test failed before it.
    ['close worker', () => worker?.close()],
    ['close queue', () => queue.close()],
    ['obliterate queues', () => obliterateQueues(prefix)],
    ['quit redis', () => ctx.redis.quit()],
    ['disconnect prisma', () => ctx.prisma.$disconnect()],
    ['end pool', () => ctx.pg.end()],
  ]),
);

test('a stop while jobs flow leaves none active: each job completed (its processor ran once) or still waiting', async () => {
  await queue.addBulk(Array.from({ length: JOBS }, (_, n) => ({ name: 'probe', data: { n } })));
  const ran = new Map<string, number>();
  const w = (worker = createQueueWorker<{ n: number }, number>(ctx, {
    queue: QUEUE,
    policy,
    processor: async (job) => {
      ran.set(job.id!, (ran.get(job.id!) ?? 0) + 1);
      return job.data.n;
    },
  }));
  let forced = false;
  let completed = 0;
  const stopped = new Promise<void>((resolve, reject) => {
    w.on('completed', () => {
      if (++completed !== STOP_AFTER) return;
      setImmediate(() => stopWorkers([w], { timeoutMs: 20_000, logger: ctx.logger, onForced: async () => void (forced = true) }).then(resolve, reject));
    });
  });
  void w.run();
  // A hang guard only: the stop must end, however long it takes here.
  await withTimeout(stopped, 60_000, 'the workers stopping');
  assert.not.ok(forced, 'the stop finished within its deadline');

  const counts = await queue.getJobCounts('active', 'completed', 'waiting', 'failed', 'delayed', 'prioritized');
  assert.equal([counts.active, counts.failed, counts.delayed, counts.prioritized], [0, 0, 0, 0], JSON.stringify(counts));
  assert.is(counts.completed! + counts.waiting!, JOBS, `nothing lost: ${JSON.stringify(counts)}`);
  assert.ok(counts.completed! >= STOP_AFTER && counts.waiting! > 0, `the stop began while jobs were flowing: ${JSON.stringify(counts)}`);

  // Exactly the jobs whose processor ran are completed, each having run once.
  const done = (await queue.getCompleted(0, JOBS)).map((j) => j.id!).sort();
  assert.equal([...ran.keys()].sort(), done);
  assert.ok([...ran.values()].every((n) => n === 1), 'no job ran twice');
  const waiting = await queue.getWaiting(0, JOBS);
  assert.ok(waiting.every((j) => !ran.has(j.id!)), 'a waiting job was never started');
});

test.run();
