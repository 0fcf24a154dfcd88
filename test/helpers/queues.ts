/** Removing every BullMQ key a test created under its random queue prefix. */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { queuesOf } from '../../app/workers.js';
import { registry } from '../../workers/registry.js';
import { REDIS_URL, waitFor } from './env.js';

/** Every queue Bulwark runs, in registry order: derived from the worker registry, as the process does. */
export const ALL_QUEUES: readonly string[] = queuesOf(registry).map((q) => q.name);

/**
 * Resolves once `queue` has nothing waiting or running and no delayed job due within
 * 5 s (or, with `counts`, no delayed job it says counts): every job due now has
 * finished, so whatever it sent has arrived. Waiting for this instead of sleeping
 * makes "nothing more came" a fact, not a guess.
 */
export function queueIdle(
  queue: Queue,
  counts: (job: Job) => boolean = (j) => j.timestamp + (j.opts.delay ?? 0) < Date.now() + 5_000,
): Promise<true> {
  return waitFor(async () => {
    const busy = await queue.getJobCounts('waiting', 'active', 'prioritized');
    const due = (await queue.getDelayed()).filter(counts);
    return Object.values(busy).every((n) => n === 0) && due.length === 0 ? (true as const) : undefined;
  }, `queue ${queue.name} idle`);
}

/** Obliterate every Bulwark queue under `prefix`, then delete any key left behind. */
export async function obliterateQueues(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    for (const name of ALL_QUEUES) {
      const q = new Queue(name, { connection, prefix });
      try {
        await q.obliterate({ force: true });
      } finally {
        await q.close();
      }
    }
    await deleteKeys(connection, prefix);
  } finally {
    await connection.quit();
  }
}

/** Delete every key under `prefix`, BullMQ's or not, on a connection the caller owns. */
export async function deleteKeys(connection: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await connection.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/**
 * Move every delayed job of every queue under `prefix` to waiting. BullMQ keeps delays
 * in Redis against the real time, which a test's injected clock cannot move: a test
 * that has advanced its clock past a scheduled moment (say, the end of quiet hours
 * eight hours away) calls this to stand in for the real wait. Returns the queue names
 * that had delayed jobs.
 */
export async function promoteDelayedJobs(prefix: string, redisUrl = REDIS_URL): Promise<string[]> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const promoted: string[] = [];
  try {
    // Found by key rather than taken from ALL_QUEUES, so a queue added later is covered.
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*:delayed`, 'COUNT', 1000);
      for (const k of keys) names.add(k.slice(prefix.length + 1, -':delayed'.length));
      cursor = next;
    } while (cursor !== '0');
    for (const name of names) {
      const q = new Queue(name, { connection, prefix });
      try {
        if ((await q.getDelayedCount()) === 0) continue;
        await q.promoteJobs();
        promoted.push(name);
      } finally {
        await q.close();
      }
    }
    return promoted;
  } finally {
    await connection.quit();
  }
}

/**
 * Everything Redis holds under `prefix` (job data, options, events, script state), as
 * one string: for asserting that no credential ever reached Redis in any form.
 */
export async function dumpRedis(prefix: string, redisUrl = REDIS_URL): Promise<string> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const parts: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      for (const key of keys) {
        const type = await connection.type(key);
        const value =
          type === 'string'
            ? await connection.get(key)
            : type === 'hash'
              ? await connection.hgetall(key)
              : type === 'list'
                ? await connection.lrange(key, 0, -1)
                : type === 'set'
                  ? await connection.smembers(key)
                  : type === 'zset'
                    ? await connection.zrange(key, 0, -1)
                    : type === 'stream'
                      ? await connection.xrange(key, '-', '+')
                      : null;
        parts.push(`${key} ${JSON.stringify(value)}`);
      }
      cursor = next;
    } while (cursor !== '0');
    return parts.join('\n');
  } finally {
    await connection.quit();
  }
}
