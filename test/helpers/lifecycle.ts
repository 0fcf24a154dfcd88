/**
 * uvu swallows an error thrown in test.before (its runner returns from a finally
 * block), and one failing step in test.after skips the rest and can leave the file
 * hanging. These wrappers print setup errors and run every cleanup step regardless.
 */
import { withTimeout } from '../../lib/time.js';

/** Wrap a test.before hook so its error is printed before uvu discards it. */
export function setup(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (err) {
      console.error('test.before failed:', err);
      throw err;
    }
  };
}

/** Run every cleanup step (each bounded in time), printing the ones that fail. */
export function cleanup(steps: Array<[what: string, step: () => unknown]>, stepTimeoutMs = 30_000): () => Promise<void> {
  return async () => {
    for (const [what, step] of steps) {
      try {
        await withTimeout(Promise.resolve().then(step), stepTimeoutMs, `cleanup: ${what}`);
      } catch (err) {
        console.error(`cleanup step "${what}" failed:`, err);
      }
    }
  };
}
