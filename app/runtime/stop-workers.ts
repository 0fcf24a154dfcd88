/**
 * Stopping the workers within SHUTDOWN_TIMEOUT_MS. Each worker is closed gracefully at
 * once: BullMQ stops fetching, and finishes what it holds, a job fetched just as the
 * stop began included, up to moving it to completed or failed. (Pausing first and then
 * watching our own count of running processors missed that job: it reached its
 * processor after the count read 0, did its work, and the forced close left it active
 * until its lock ran out, to be run again.)
 *
 * At the deadline the close is no longer waited for: jobs still running are abandoned
 * (their locks expire and another worker takes them over, idempotently), `onForced`
 * ends what they hold (the audit commit, its statement), and the connections the
 * caller closes next end the close. BullMQ's close(true) cannot be used instead: once
 * a close is under way it returns that same close.
 *
 * A close left behind has not yet reached the step that stops the worker's lock renewal
 * (BullMQ runs that after the blocking connection's 'end', which a Redis Cluster
 * connection whose node was SIGKILLed never emits). Its timer re-arms itself forever and
 * keeps the process alive after everything else has stopped, so it is stopped here.
 */
import type { Worker } from 'bullmq';
import type { Logger } from '../../lib/logger.js';
import { jobsRunning } from './queue-worker.js';

export async function stopWorkers(
  workers: Worker[],
  options: { timeoutMs: number; logger: Logger; onForced: () => Promise<void> },
): Promise<void> {
  const closing = Promise.all(workers.map((w) => w.close()));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>(
    (resolve) => (timer = setTimeout(() => resolve('deadline'), options.timeoutMs)),
  );
  const first = await Promise.race([closing.then(() => 'closed' as const), deadline]).finally(() =>
    clearTimeout(timer),
  );
  if (first === 'closed') return;
  // Left behind, not awaited: it ends when the connections close.
  closing.catch(() => undefined);
  const still = workers.reduce((n, w) => n + jobsRunning(w), 0);
  options.logger.warn(
    { event: 'shutdown_forced', running_jobs: still, timeout_ms: options.timeoutMs },
    'jobs still running at the deadline; they will be retried',
  );
  await options.onForced();
  await Promise.all(workers.map(stopLockRenewal));
}

/** BullMQ keeps the lock manager private; its close() only clears a timer and a map. */
async function stopLockRenewal(worker: Worker): Promise<void> {
  const { lockManager } = worker as unknown as { lockManager?: { close(): Promise<void> } };
  await lockManager?.close().catch(() => undefined);
}
