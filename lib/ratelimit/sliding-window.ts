/**
 * An exact sliding-window limiter enforced by one Lua script in Redis
 * (sliding-window.lua). The script is read and defined when a limiter is created,
 * never at import time.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const SCRIPT_PATH = new URL('./sliding-window.lua', import.meta.url);
const COMMAND = 'bulwarkSlidingWindow';

export interface LimitResult {
  allowed: boolean;
  count: number;
  retryAfterMs: number;
  limit: number;
  remaining: number;
}

export interface SlidingWindowLimiter {
  /** Count one hit against `key`; at most `limit` hits are admitted per `windowMs`. */
  hit(key: string, limit: number, windowMs: number): Promise<LimitResult>;
}

type WithCommand = Redis & { [COMMAND]: (key: string, now: number, windowMs: number, limit: number, member: string) => Promise<[number, number, number]> };

export function createSlidingWindowLimiter(redis: Redis, options: { keyPrefix: string; clock?: () => number }): SlidingWindowLimiter {
  const clock = options.clock ?? Date.now;
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: readFileSync(SCRIPT_PATH, 'utf8') });
  let counter = 0;
  const seed = randomBytes(4).toString('hex');
  return {
    async hit(key, limit, windowMs) {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number of at least 1 (got ${limit})`);
      if (!Number.isInteger(windowMs) || windowMs < 1) throw new RangeError(`windowMs must be a whole number of at least 1 (got ${windowMs})`);
      const now = clock();
      counter = (counter + 1) % 1_000_000_000;
      const [allowed, count, retry] = await (redis as WithCommand)[COMMAND](`${options.keyPrefix}:${key}`, now, windowMs, limit, `${now}-${seed}-${counter}`);
      return { allowed: allowed === 1, count, retryAfterMs: retry, limit, remaining: Math.max(0, limit - count) };
    },
  };
}
