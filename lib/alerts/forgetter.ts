/**
 * Deletion of short-lived keys nobody waits for (an alert's remembered decision once its
 * row is written): the keys of concurrently finishing jobs go in one UNLINK per hash tag
 * instead of a round trip each. Per tag, because keys of different tags may live on
 * different Redis Cluster nodes. While one flush is in Redis the next keys gather, so
 * under load a flush grows instead of the commands multiplying.
 */
import type { RedisClient } from '../clients/redis.js';

export interface Forgetter {
  /** Delete `key` (in hash tag `tag`) soon; never throws. */
  add(tag: string, key: string): void;
  /** Resolves once every key added so far has been sent (for tests and shutdown). */
  drain(): Promise<void>;
}

export function createForgetter(redis: RedisClient, onError: (err: unknown) => void): Forgetter {
  let pending = new Map<string, string[]>();
  let flushing: Promise<void> | undefined;
  let scheduled = false;

  async function flush(): Promise<void> {
    while (pending.size > 0) {
      const batch = pending;
      pending = new Map();
      // A failure leaves the keys to expire on their own TTL: nothing depends on them.
      await Promise.all([...batch.values()].map((keys) => redis.unlink(...keys).catch(onError)));
    }
  }

  function schedule(): void {
    if (scheduled || flushing) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flushing = flush().finally(() => {
        flushing = undefined;
        if (pending.size > 0) schedule();
      });
    });
  }

  return {
    add(tag, key) {
      const keys = pending.get(tag);
      if (keys) keys.push(key);
      else pending.set(tag, [key]);
      schedule();
    },
    async drain() {
      while (pending.size > 0 || flushing || scheduled) await (flushing ?? new Promise((r) => setImmediate(r)));
    },
  };
}
