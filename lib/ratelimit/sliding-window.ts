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
  /** Hits in the window after this call (the denied hit is not counted). */
  count: number;
  /** 0 when allowed; otherwise ms until a slot frees, between 1 and windowMs. */
  retryAfterMs: number;
  limit: number;
  remaining: number;
}

export interface SlidingWindowLimiter {
  /** Count one hit against `key`; at most `limit` hits are admitted per `windowMs`. */
  hit(key: string, limit: number, windowMs: number): Promise<LimitResult>;
}

export interface SlidingWindowOptions {
  /** Prepended to every key as `${keyPrefix}:${key}`. */
  keyPrefix: string;
  /** Milliseconds since the epoch; injectable for tests. Defaults to Date.now. */
  clock?: () => number;
}

type WithCommand = Redis & { [COMMAND]: (key: string, now: number, windowMs: number, limit: number, member: string) => Promise<[number, number, number]> };

export function createSlidingWindowLimiter(redis: Redis, options: SlidingWindowOptions): SlidingWindowLimiter {
  if (typeof options.keyPrefix !== 'string' || options.keyPrefix === '') throw new TypeError('keyPrefix must be a non-empty string');
  const clock = options.clock ?? Date.now;
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: readFileSync(SCRIPT_PATH, 'utf8') });
  // Member ids: time, a random per-limiter seed and a counter, so hits in the same
  // millisecond never collide, in this process or another.
  const seed = randomBytes(6).toString('hex');
  let counter = 0;
  return {
    async hit(key, limit, windowMs) {
      if (typeof key !== 'string' || key === '') throw new TypeError('key must be a non-empty string');
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number of at least 1 (got ${limit})`);
      if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError(`windowMs must be a whole number of milliseconds, at least 1 (got ${windowMs})`);
      const raw = clock();
      if (!Number.isFinite(raw)) throw new RangeError(`clock must return a finite number of milliseconds (got ${raw})`);
      const now = Math.floor(raw);
      counter = (counter + 1) % 1_000_000_000;
      const [allowed, count, retry] = await (redis as WithCommand)[COMMAND](`${options.keyPrefix}:${key}`, now, windowMs, limit, `${now}-${seed}-${counter}`);
      return { allowed: allowed === 1, count, retryAfterMs: retry, limit, remaining: Math.max(0, limit - count) };
    },
  };
}
