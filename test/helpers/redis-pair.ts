/**
 * Two Redis connections for a script's tests (one to act, one more to show the script
 * exact under concurrency from two clients) and a fresh key prefix per test, its keys
 * deleted afterwards whatever the test did.
 */
import { Redis } from 'ioredis';
import { randomPrefix, REDIS_URL } from './env.js';
import { deleteKeys } from './queues.js';

export interface RedisPair {
  redis: Redis;
  other: Redis;
  /** Run `fn` with a new prefix (`test-<label>-<random>`), deleting every key under it afterwards. */
  withPrefix(fn: (prefix: string) => Promise<void>): Promise<void>;
  /** Quit both connections (for test.after). */
  close(): Promise<void>;
}

export function makeRedisPair(label: string): RedisPair {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const other = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  return {
    redis,
    other,
    async withPrefix(fn) {
      const prefix = randomPrefix(label);
      try {
        await fn(prefix);
      } finally {
        await deleteKeys(redis, prefix);
      }
    },
    async close() {
      await redis.quit();
      await other.quit();
    },
  };
}
