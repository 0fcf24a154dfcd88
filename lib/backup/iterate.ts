/** Small async helpers for backups: a bounded map, and an iteration whose every step has a deadline. */
import { withTimeout } from '../time.js';

/**
 * `fn` over `items` with at most `limit` calls in flight; results in input order. On the
 * first failure no new call starts, and the promise rejects with that failure once the
 * calls in flight have settled: a failed backup must not go on copying behind the
 * caller's back (its cleanup, or the retry's, would race the late copies).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.err;
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
