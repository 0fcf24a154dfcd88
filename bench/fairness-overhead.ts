/**
 * The enqueue cost of fair dispatch against BullMQ's own add, in the same run on the
 * same Redis, no workers: N single-entry audit jobs, CONCURRENCY calls in flight, as
 *   raw      Queue.add with a job id (what the producer did before),
 *   admitted the dispatcher's enqueue with room (one script call, then the same add),
 *   parked   the dispatcher's enqueue with the window full (the script parks the job,
 *            then one dispatch call finds no room).
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AUDIT_WRITE_QUEUE, auditWriteQueue } from '../lib/contracts/audit.js';
import { createFairDispatcher } from '../lib/fair/dispatcher.js';
import { dropPrefix } from './bulwark.js';
import { pool, randomPrefix, rate } from './util.js';

export interface OverheadResult {
  rawPerSec: number;
  admittedPerSec: number;
  parkedPerSec: number;
}

const CONCURRENCY = 50;

export async function measureEnqueueOverhead(redisUrl: string, n: number): Promise<OverheadResult> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const prefix = randomPrefix('fair-overhead');
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix });
  const fair = createFairDispatcher({ redis, queuePrefix: prefix, queues: new Map([[auditWriteQueue, queue]]) });
  const tenant = randomUUID();
  const data = () => ({
    v: 1,
    entries: [
      {
        tenantId: tenant,
        eventId: randomUUID(),
        occurredAt: new Date().toISOString(),
        actorType: 'service',
        actorId: 'bench',
        action: 'bench:write',
        resourceType: 'bench',
        resourceId: 'r-1',
      },
    ],
  });
  const opts = () => ({
    jobId: randomUUID(),
    attempts: 5,
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 1000 },
  });
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await pool(n, CONCURRENCY, fn);
    return rate(n, performance.now() - t0);
  };
  try {
    const keys = fair.script(AUDIT_WRITE_QUEUE).keys;
    const rawPerSec = await timed(() => queue.add('write', data(), opts()));
    await queue.obliterate({ force: true });
    // Room for everything: no cap, no rate, a window larger than the run.
    await redis.hset(keys[6]!, 'window', 1e9);
    await redis.hset(keys[7]!, tenant, '1000000|0');
    const part = () => ({
      queue: AUDIT_WRITE_QUEUE,
      tenant,
      job: { name: 'write', data: data(), opts: opts() },
      cost: 1,
    });
    const admittedPerSec = await timed(() => fair.enqueue(part()));
    await queue.obliterate({ force: true });
    // A window of one entry, already taken: every job is parked.
    await redis.hset(keys[6]!, 'window', 1);
    const parkedPerSec = await timed(() => fair.enqueue(part()));
    return { rawPerSec, admittedPerSec, parkedPerSec };
  } finally {
    await fair.settle();
    await queue.close();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
