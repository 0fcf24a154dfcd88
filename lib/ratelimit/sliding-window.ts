/**
 * An exact sliding-window limiter enforced by one Lua script in Redis
 * (sliding-window.lua). The script is read and defined when a limiter is created,
 * never at import time.
 */
import type { RedisClient } from '../clients/redis.js';
import { defineScript, memberIds } from '../redis-script.js';

const SCRIPT = {
  name: 'bulwarkSlidingWindow',
  file: new URL('./sliding-window.lua', import.meta.url),
  numberOfKeys: 1,
};

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

type Args = [key: string, now: number, windowMs: number, limit: number, member: string, n: number];

/** Lua's unpack() has a stack limit; a batch is flushed at this many hits. */
const MAX_HITS_PER_CALL = 1000;

interface Batch {
  key: string;
  limit: number;
  windowMs: number;
  now: number;
  waiters: Array<{ resolve: (r: LimitResult) => void; reject: (e: unknown) => void }>;
}

export function createSlidingWindowLimiter(redis: RedisClient, options: SlidingWindowOptions): SlidingWindowLimiter {
  if (typeof options.keyPrefix !== 'string' || options.keyPrefix === '')
    throw new TypeError('keyPrefix must be a non-empty string');
  const clock = options.clock ?? Date.now;
  const script = defineScript<Args, [number, number, number]>(redis, SCRIPT);
  // One id per script call: the script derives the ids of a call's hits from it.
  const memberId = memberIds();
  // Hits of one event-loop turn for the same key share one script call: under load a
  // round trip per request costs more than the request's own work.
  const open = new Map<string, Batch>();
  let scheduled = false;

  async function run(b: Batch): Promise<void> {
    try {
      const [admitted, before, retry] = await script(
        `${options.keyPrefix}:${b.key}`,
        b.now,
        b.windowMs,
        b.limit,
        memberId(b.now),
        b.waiters.length,
      );
      b.waiters.forEach((w, i) => {
        const allowed = i < admitted;
        const count = allowed ? before + i + 1 : before + admitted;
        w.resolve({
          allowed,
          count,
          retryAfterMs: allowed ? 0 : retry,
          limit: b.limit,
          remaining: Math.max(0, b.limit - count),
        });
      });
    } catch (err) {
      for (const w of b.waiters) w.reject(err);
    }
  }

  function flushAll(): void {
    scheduled = false;
    const batches = [...open.values()];
    open.clear();
    for (const b of batches) void run(b);
  }

  return {
    async hit(key, limit, windowMs) {
      if (typeof key !== 'string' || key === '') throw new TypeError('key must be a non-empty string');
      if (!Number.isSafeInteger(limit) || limit < 1)
        throw new RangeError(`limit must be a whole number of at least 1 (got ${limit})`);
      if (!Number.isSafeInteger(windowMs) || windowMs < 1)
        throw new RangeError(`windowMs must be a whole number of milliseconds, at least 1 (got ${windowMs})`);
      const raw = clock();
      if (!Number.isFinite(raw)) throw new RangeError(`clock must return a finite number of milliseconds (got ${raw})`);
      const now = Math.floor(raw);
      const id = `${key}\n${limit}\n${windowMs}`;
      let batch = open.get(id);
      if (batch && batch.now !== now) {
        // The clock moved on within the turn: send what was gathered first, so the
        // script calls (run in order on one connection) admit callers in call order.
        open.delete(id);
        void run(batch);
        batch = undefined;
      }
      if (!batch) open.set(id, (batch = { key, limit, windowMs, now, waiters: [] }));
      const b = batch;
      const result = new Promise<LimitResult>((resolve, reject) => b.waiters.push({ resolve, reject }));
      if (b.waiters.length >= MAX_HITS_PER_CALL) {
        open.delete(id);
        void run(b);
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(flushAll);
      }
      return result;
    },
  };
}
