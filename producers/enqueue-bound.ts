/**
 * The producer's answer-within-a-bound (option enqueueTimeoutMs, the HTTP API's
 * API_REDIS_TIMEOUT_MS): a call not safely in Redis by its start plus the bound is
 * refused with a RedisDeadlineError. The work goes on behind it, but the storing script
 * was sent with a deadline at half the bound (lib/fair/deadline.ts), so it stores
 * nothing that late; one that stored all the same (its answer took longer than the other
 * half to come back) is reported through onError, so every such case is counted.
 */
import { EnqueueDeadlineError } from '../lib/fair/deadline.js';

/** What a refused call that stored all the same is reported as (the API counts it). */
export class StoredAfterRefusalError extends Error {
  override name = 'StoredAfterRefusalError';
  constructor(budgetMs: number) {
    super(`an enqueue refused after ${budgetMs} ms was stored all the same: its answer came back later than the bound`);
  }
}

export function createEnqueueBound(
  budgetMs: number | undefined,
  onError: ((err: Error) => void) | undefined,
): <T>(startedAt: number, work: Promise<T>) => Promise<T> {
  if (!budgetMs) return (_startedAt, work) => work;
  return async (startedAt, work) => {
    let timer: NodeJS.Timeout | undefined;
    let refused = false;
    const bound = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => {
          refused = true;
          reject(new EnqueueDeadlineError(budgetMs));
        },
        Math.max(0, startedAt + budgetMs - Date.now()),
      );
    });
    void work.then(
      () => refused && onError?.(new StoredAfterRefusalError(budgetMs)),
      () => undefined,
    );
    try {
      return await Promise.race([work, bound]);
    } finally {
      clearTimeout(timer);
    }
  };
}
