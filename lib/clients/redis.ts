/** Redis client factory. BullMQ needs maxRetriesPerRequest: null on worker connections. */
import { Redis } from 'ioredis';
import type { Config } from '../config.js';

/**
 * @param autoPipelining default true. Worker connections gain from it (a tick's job
 * completions share one write); the API's connection loses by it: ioredis builds a
 * Pipeline per tick and copies every defined script (BullMQ defines dozens) into it,
 * which cost the ingest route about a quarter of its throughput when measured.
 */
export function createRedis(config: Pick<Config, 'redisUrl'>, name = 'bulwark', options: { autoPipelining?: boolean } = {}): Redis {
  return new Redis(config.redisUrl, {
    maxRetriesPerRequest: null,
    connectionName: name,
    enableAutoPipelining: options.autoPipelining ?? true,
    // Keep retrying with a ceiling: an outage should delay work, not crash the process.
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
}

/**
 * The HTTP API's connection: it must refuse, not wait. A worker connection queues
 * commands while Redis is away and sends them when it is back, which is right for jobs;
 * for a request it made the API hang (76 s measured), grew memory with every queued
 * command, and enqueued writes whose clients had long given up (issue 15). Here:
 * - no offline queue: a command while disconnected is refused at once, never sent later;
 * - no retry of commands cut by a disconnect, so nothing is sent after its request was answered;
 * - `commandTimeoutMs` bounds the wait for a connected Redis that does not answer.
 * The connection itself keeps reconnecting with the same backoff as the workers'.
 */
export function createApiRedis(config: Pick<Config, 'redisUrl' | 'apiRedisTimeoutMs'>, name = 'bulwark-api'): Redis {
  return new Redis(config.redisUrl, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: config.apiRedisTimeoutMs,
    connectTimeout: config.apiRedisTimeoutMs,
    // See createRedis on auto-pipelining: the API's connection loses by it.
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
}

/** Resolves when `redis` is ready or after `ms`, whichever comes first (never rejects). */
export function untilReady(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    redis.once('ready', done);
  });
}
