/**
 * uvu swallows an error thrown in test.before (its runner returns from a finally
 * block), and one failing step in test.after skips the rest and can leave the file
 * hanging. These wrappers print setup errors and run every cleanup step regardless.
 */
import { withTimeout } from '../../lib/time.js';
import { obliterateQueues } from './queues.js';

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
export function cleanup(
  steps: Array<[what: string, step: () => unknown]>,
  stepTimeoutMs = 30_000,
): () => Promise<void> {
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

/**
 * The cleanup steps of a file that runs Bulwark in-process with a producer and its own
 * database, in order: producer, Bulwark, its queues, the database. Add the file's own
 * servers after them.
 */
interface Running {
  producer?: { close(): Promise<void> };
  bulwark?: { stop(): Promise<void>; ctx: { config: { queuePrefix: string } } };
  db?: { drop(): Promise<void> };
}

/** `get` is called at cleanup time, so it sees what test.before assigned. */
export function bulwarkTeardown(get: () => Running): Array<[string, () => unknown]> {
  const prefix = () => get().bulwark?.ctx.config.queuePrefix;
  return [
    ['close producer', () => get().producer?.close()],
    ['stop bulwark', () => get().bulwark?.stop()],
    ['obliterate queues', () => prefix() && obliterateQueues(prefix()!)],
    ['drop database', () => get().db?.drop()],
  ];
}
