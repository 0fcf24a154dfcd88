/** Small async helpers for backups: a bounded map, and an iteration whose every step has a deadline. */
import { withTimeout } from '../time.js';

/** `fn` over `items` with at most `limit` calls in flight; results in input order; rejects on the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/**
 * Iterate `source`, failing when one step takes longer than `ms` (a listing whose
 * server went silent would otherwise wait forever). The source is closed either way.
 */
export async function* timedIterate<T>(source: AsyncIterable<T>, ms: number, what: string): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await withTimeout(it.next(), ms, what);
      if (step.done) return;
      yield step.value;
    }
  } finally {
    await it.return?.()?.catch(() => undefined);
  }
}
