/**
 * A failure lockout enforced by one Lua script in Redis (lockout.lua): at most `limit`
 * failures per subject are judged within a sliding window, the next locks the subject
 * out, and a locked subject is refused whatever it brings. Unlike a limiter in front
 * of a check (sliding-window.ts), the caller reports each attempt's outcome and gets
 * the verdict in the same atomic step, so attempts in flight when the limit is reached
 * cannot slip past it. The script is read and defined when a lockout is created,
 * never at import time.
 */
import type { RedisClient } from '../clients/redis.js';
import { defineScript, memberIds } from '../redis-script.js';

const SCRIPT = { name: 'bulwarkLockout', file: new URL('./lockout.lua', import.meta.url), numberOfKeys: 2 };

export interface LockoutOptions {
  /** Keys are `${keyPrefix}:failures:${subject}` and `${keyPrefix}:locked:${subject}`. */
  keyPrefix: string;
  /** Failures judged per subject within the window; the next one sets the lock. */
  limit: number;
  /** The sliding window over which failures count, in ms. */
  windowMs: number;
  /** How long a lock lasts, in ms. Defaults to windowMs. */
  lockMs?: number;
  /** Milliseconds since the epoch; injectable for tests. Defaults to Date.now. */
  clock?: () => number;
}

export type LockoutVerdict =
  /** Not locked (an attempt reported as a success, or a check). */
  | { state: 'open' }
  /** A failure, recorded: judge it. `failures` counts it, at most `limit`. */
  | { state: 'counted'; failures: number }
  /**
   * Refused unjudged. `lockedNow` is true for the one failure that set the lock
   * (`failures` then counts it, `limit + 1`), false while the lock lasts.
   */
  | { state: 'locked'; retryAfterMs: number; lockedNow: boolean; failures?: number };

export interface Lockout {
  /** An attempt that failed: counted (and judged) unless the subject is or becomes locked. */
  fail(subject: string): Promise<LockoutVerdict>;
  /** An attempt that succeeded or counts for nothing: refused only if the subject is locked. */
  check(subject: string): Promise<LockoutVerdict>;
}

type Reply = [string, number, number];
type Args = [
  failuresKey: string,
  lockKey: string,
  now: number,
  windowMs: number,
  limit: number,
  lockMs: number,
  member: string,
  outcome: string,
];

function wholeNumber(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a whole number of at least 1 (got ${value})`);
  return value;
}

export function createLockout(redis: RedisClient, options: LockoutOptions): Lockout {
  if (typeof options.keyPrefix !== 'string' || options.keyPrefix === '')
    throw new TypeError('keyPrefix must be a non-empty string');
  const limit = wholeNumber('limit', options.limit);
  const windowMs = wholeNumber('windowMs', options.windowMs);
  const lockMs = wholeNumber('lockMs', options.lockMs ?? options.windowMs);
  const clock = options.clock ?? Date.now;
  const script = defineScript<Args, Reply>(redis, SCRIPT);
  const memberId = memberIds();

  async function run(subject: string, outcome: 'failure' | 'check'): Promise<LockoutVerdict> {
    if (typeof subject !== 'string' || subject === '') throw new TypeError('subject must be a non-empty string');
    const now = Math.floor(clock());
    if (!Number.isFinite(now)) throw new RangeError('clock must return a finite number of milliseconds');
    const [state, ms, failures] = await script(
      `${options.keyPrefix}:failures:${subject}`,
      `${options.keyPrefix}:locked:${subject}`,
      now,
      windowMs,
      limit,
      lockMs,
      memberId(now),
      outcome,
    );
    switch (state) {
      case 'open':
        return { state: 'open' };
      case 'counted':
        return { state: 'counted', failures };
      case 'lock':
        return { state: 'locked', retryAfterMs: ms, lockedNow: true, failures };
      case 'locked':
        return { state: 'locked', retryAfterMs: ms, lockedNow: false };
      default:
        throw new Error(`lockout script returned an unknown state: ${String(state)}`);
    }
  }

  return { fail: (subject) => run(subject, 'failure'), check: (subject) => run(subject, 'check') };
}
