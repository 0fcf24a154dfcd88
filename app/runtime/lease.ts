/**
 * A lease in Redis: one holder at a time across every host. Taken with SET NX and an
 * expiry, renewed by its holder only (a script compares the holder's token), released
 * by its holder only. A holder that dies stops renewing, and the lease expires within
 * its TTL for another process to take.
 *
 * Not a Postgres advisory lock: behind PgBouncer in transaction pooling mode a session
 * lock stays on a server session other clients share, and holding a transaction open
 * instead would pin a server connection per standby. The scheduler needs Redis anyway.
 */
import type { RedisClient } from '../../lib/clients/redis.js';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface Lease {
  readonly key: string;
  /** This process's token, stored as the lease's value (host, pid and a random part: readable by operators). */
  readonly holder: string;
  /** Take the lease if nobody holds it. */
  tryAcquire(): Promise<boolean>;
  /** Extend the lease; false when this process no longer holds it. */
  renew(): Promise<boolean>;
  /** Give the lease up if this process holds it, so a standby takes over at once. */
  release(): Promise<void>;
  /** Who holds it now (the holder's token), or null. */
  holderNow(): Promise<string | null>;
}

export function createLease(redis: RedisClient, key: string, holder: string, ttlMs: number): Lease {
  return {
    key,
    holder,
    tryAcquire: async () => (await redis.set(key, holder, 'PX', ttlMs, 'NX')) === 'OK',
    renew: async () => Number(await redis.eval(RENEW, 1, key, holder, String(ttlMs))) === 1,
    release: async () => void (await redis.eval(RELEASE, 1, key, holder)),
    holderNow: () => redis.get(key),
  };
}
