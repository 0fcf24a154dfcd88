/**
 * Building a BullMQ Worker for one queue from its contract policy, with the metrics
 * and logging every queue gets: completed/failed counters, a duration histogram and
 * a structured log line for each failure.
 */
import { Worker, type Job, type Processor } from 'bullmq';
import type { QueuePolicy } from '../../lib/contracts/common.js';
import type { AppContext } from '../../lib/context.js';

export interface QueueWorkerOptions<D, R> {
  queue: string;
  policy: QueuePolicy;
  processor: (job: Job<D, R>, token?: string) => Promise<R>;
  /** Overrides policy.concurrency. */
  concurrency?: number;
  /** Called for a job that failed with no retry left, after it is counted and logged. */
  onFinalFailure?: (job: Job<D, R> | undefined, err: Error) => void;
  /** Called once a job has completed or failed with no retry left (fair dispatch frees its slot). */
  onEnded?: (jobId: string) => void;
}

/** Jobs each worker's processor is running now (a shutdown past its deadline reports them). */
const running = new WeakMap<Worker, { count: number }>();

/** How many jobs this worker (made by createQueueWorker) is running now. */
export function jobsRunning(worker: Worker): number {
  return running.get(worker)?.count ?? 0;
}

export function createQueueWorker<D, R>(ctx: AppContext, options: QueueWorkerOptions<D, R>): Worker<D, R> {
  const { config, metrics } = ctx;
  const log = ctx.logger.child({ queue: options.queue });
  const inProcessor = { count: 0 };
  const processor = async (job: Job<D, R>, token?: string): Promise<R> => {
    inProcessor.count++;
    try {
      return await options.processor(job, token);
    } finally {
      inProcessor.count--;
    }
  };
  const worker = new Worker<D, R>(options.queue, processor as Processor<D, R>, {
    connection: ctx.redis,
    prefix: config.queuePrefix,
    concurrency: options.concurrency ?? options.policy.concurrency,
    limiter: options.policy.limiter,
    lockDuration: config.workerLockDurationMs,
    stalledInterval: Math.max(500, Math.floor(config.workerLockDurationMs / 2)),
    // A job whose worker died is retried; only one that keeps killing workers fails.
    maxStalledCount: 2,
    autorun: false,
  });
  // Each series exists from the start at 0: a rule's rate() or increase() then counts
  // a process's first failure too (a series first seen at 1 has no increase).
  metrics.jobsCompleted.inc({ queue: options.queue }, 0);
  for (const final of ['true', 'false']) metrics.jobsFailed.inc({ queue: options.queue, final }, 0);
  worker.on('completed', (job) => {
    if (job.id) options.onEnded?.(job.id);
    metrics.jobsCompleted.inc({ queue: options.queue });
    if (job.processedOn && job.finishedOn) {
      metrics.jobDuration.observe({ queue: options.queue }, (job.finishedOn - job.processedOn) / 1000);
    }
  });
  worker.on('failed', (job, err) => {
    // A job that stalled too often is failed for good whatever its attempts say.
    const final =
      !job ||
      err.name === 'UnrecoverableError' ||
      /stalled more than allowable limit/.test(err.message) ||
      job.attemptsMade >= (job.opts.attempts ?? 1);
    metrics.jobsFailed.inc({ queue: options.queue, final: String(final) });
    log.warn(
      {
        event: 'job_failed',
        job_id: job?.id,
        attempts_made: job?.attemptsMade,
        final,
        error: { type: err.name, message: err.message },
      },
      'job attempt failed',
    );
    if (final && job?.id) options.onEnded?.(job.id);
    if (final) options.onFinalFailure?.(job, err);
  });
  worker.on('error', (err) => log.error({ event: 'worker_error', err }, 'worker error'));
  running.set(worker as Worker, inProcessor);
  return worker;
}
