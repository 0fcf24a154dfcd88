/**
 * One database backup at a time across every worker process and CLI run: a Redis
 * lock (SET NX with an expiry, renewed while the backup runs, released only by its
 * holder). A holder that dies (SIGKILL) stops renewing, so the lock expires within
 * LOCK_TTL_MS and the job's retry can take it.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../clients/redis.js';

export const LOCK_TTL_MS = 15_000;

export class BackupBusyError extends Error {
  constructor(what: string) {
    super(`another ${what} backup is running (lock held); this one will retry`);
    this.name = 'BackupBusyError';
  }
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface Lock {
  release(): Promise<void>;
  /** Set when renewal found the lock lost (Redis down for longer than the TTL). */
  lost(): boolean;
}

export async function acquireLock(redis: RedisClient, key: string, what: string): Promise<Lock> {
  const token = randomUUID();
  const ok = await redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX');
  if (ok !== 'OK') throw new BackupBusyError(what);
  let lost = false;
  const timer = setInterval(() => {
    redis.eval(RENEW, 1, key, token, String(LOCK_TTL_MS)).then(
      (r) => void (r === 0 && (lost = true)),
      () => undefined, // Redis briefly away: the next tick tries again.
    );
  }, LOCK_TTL_MS / 3);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    },
    lost: () => lost,
  };
}
