/**
 * Stopping the workers within SHUTDOWN_TIMEOUT_MS. They stop taking jobs at once
 * (`pause(true)`), running jobs get until the deadline to finish, then the workers
 * close without waiting (`close(true)`). Not `close()` and then `close(true)`: once a
 * close is under way BullMQ's close(true) returns that same close, which waits for the
 * running jobs however long they take. Not `pause()` either: it waits for the running
 * jobs and then reopens the blocking connection, after the close. Jobs still running at
 * the deadline are abandoned: their locks expire and another worker takes them over,
 * idempotently; `onForced` ends what they hold (the audit commit, its statement).
 */
import type { Worker } from 'bullmq';
import type { Logger } from '../../lib/logger.js';
import { jobsRunning } from './queue-worker.js';

export async function stopWorkers(workers: Worker[], options: { timeoutMs: number; logger: Logger; onForced: () => Promise<void> }): Promise<void> {
  await Promise.all(workers.map((w) => w.pause(true)));
  const deadline = Date.now() + options.timeoutMs;
  while (workers.some((w) => jobsRunning(w) > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const still = workers.reduce((n, w) => n + jobsRunning(w), 0);
  await Promise.all(workers.map((w) => w.close(true)));
  if (still > 0) {
    options.logger.warn({ event: 'shutdown_forced', running_jobs: still, timeout_ms: options.timeoutMs }, 'jobs still running at the deadline; they will be retried');
    await options.onForced();
  }
}
