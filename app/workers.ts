/**
 * The workers, queues and hooks of one process, built from the worker registry
 * (workers/registry.ts): one queue handle per queue (shared by the workers' follow-up
 * jobs, the scheduler, metrics and Bull Board), one BullMQ Worker per queue whose
 * dispatch finds the job's registration by name and validates its payload against the
 * job's schema before the processor runs (an unknown name or an invalid payload can
 * never succeed: UnrecoverableError).
 */
import { Queue, UnrecoverableError, type Job, type Worker } from 'bullmq';
import type { AppContext } from '../lib/context.js';
import type { FairConfig, QueueDefinition } from '../lib/contracts/job.js';
import {
  parsePayload,
  type JobProcessor,
  type Registration,
  type WorkerOptions,
  type WorkerScope,
} from '../workers/registration.js';
import { createQueueWorker } from './runtime/queue-worker.js';
import { createFairDispatcher } from '../lib/fair/dispatcher.js';
import { startFairUpkeep } from '../lib/fair/upkeep.js';

export interface ProcessWorkers {
  /** One per queue, in registry order. */
  workers: Worker[];
  /** One handle per queue, in registry order; closed by the caller. */
  queues: Queue[];
  /** The process's handle of a queue. */
  queue(def: QueueDefinition): Queue;
  /** Every registration's drain, each function once, in registry order. */
  drain(): Promise<void>;
  /** Every registration's abort, each function once (the shutdown deadline passed). */
  abort(): void;
}

/** Each distinct value once, in order. */
const distinct = <T>(items: Array<T | undefined>): T[] => [...new Set(items.filter((x): x is T => x !== undefined))];

export function queuesOf(registry: readonly Registration[]): QueueDefinition[] {
  return distinct(registry.map((r) => r.job.queue));
}

/** Every registration's gauges hook, each function once, in registry order (workers or not). */
export function wireGauges(ctx: AppContext, registry: readonly Registration[], parts: { database: boolean }): void {
  for (const gauges of distinct(registry.map((r) => r.gauges))) gauges(ctx, parts);
}

export function createWorkers(
  ctx: AppContext,
  registry: readonly Registration[],
  options: WorkerOptions = {},
): ProcessWorkers {
  const handles = new Map<QueueDefinition, Queue>();
  for (const def of queuesOf(registry)) {
    const q = new Queue(def.name, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
    q.on('error', (err) => ctx.logger.warn({ event: 'queue_error', queue: def.name, err }, 'queue connection error'));
    handles.set(def, q);
  }
  // The tenant jobs of the queues whose definition declares `fair`: released here as jobs
  // end and on a timer (lib/fair/upkeep.ts).
  const fair = createFairDispatcher({
    redis: ctx.redis,
    queuePrefix: ctx.config.queuePrefix,
    queues: handles,
    onError: (err, queue) => ctx.logger.warn({ event: 'fair_dispatch_failed', queue, err }, 'fair dispatch failed'),
  });
  const upkeep = startFairUpkeep({
    dispatcher: fair,
    redis: ctx.redis,
    pg: ctx.pg,
    queues: new Map([...handles].filter(([d]) => d.fair).map(([d, q]) => [d.name, q])),
    windows: fairWindows(ctx.config, queuesOf(registry)),
    tickMs: ctx.config.fair.tickMs,
    logger: ctx.logger,
  });
  const made = new Map<unknown, unknown>();
  const scope: WorkerScope = {
    ctx,
    options,
    shared: <T>(make: (s: WorkerScope) => T): T => {
      if (!made.has(make)) made.set(make, make(scope));
      return made.get(make) as T;
    },
    queue: (def) => {
      const q = handles.get(def);
      if (!q) throw new Error(`queue ${def.name} has no registered job`);
      return q;
    },
    enqueueFair: (part) => fair.enqueue(part),
  };

  const workers = [...handles.keys()].map((def) => {
    const regs = registry.filter((r) => r.job.queue === def);
    const byName = new Map<string, { reg: Registration; run: JobProcessor<unknown> }>(
      regs.map((reg) => [reg.job.name, { reg, run: reg.processor(scope) }]),
    );
    const finalHooks = distinct(regs.map((r) => r.onFinalFailure));
    const concurrency = regs.find((r) => r.concurrency)?.concurrency?.(scope);
    const worker: Worker = createQueueWorker(ctx, {
      queue: def.name,
      policy: def.policy,
      ...(concurrency === undefined ? {} : { concurrency }),
      processor: (job: Job, token?: string) => {
        const entry = byName.get(job.name);
        if (!entry) throw new UnrecoverableError(`unknown ${def.name} job "${job.name}"`);
        const data = entry.reg.parsesItself ? job.data : parsePayload(entry.reg.job, job.data);
        return entry.run(data, job, token, worker);
      },
      onEnded: (jobId) => fair.finished(def.name, jobId),
      onFinalFailure: (job, err) => {
        const own = job ? byName.get(job.name)?.reg : undefined;
        if (own) own.onFinalFailure?.(scope, job, err);
        else for (const hook of finalHooks) hook(scope, job, err);
      },
    }) as Worker;
    return worker;
  });

  return {
    workers,
    queues: [...handles.values()],
    queue: scope.queue,
    drain: async () => {
      await upkeep.stop();
      await fair.settle();
      for (const drain of distinct(registry.map((r) => r.drain))) await drain(scope);
    },
    abort: () => {
      for (const abort of distinct(registry.map((r) => r.abort))) abort(scope);
    },
  };
}

/** Each fair queue's window, as its definition declares it (FAIR_AUDIT_WINDOW, FAIR_ALERT_WINDOW, …). */
export function fairWindows(config: FairConfig, queues: Iterable<QueueDefinition>): Map<string, number> {
  const windows = new Map<string, number>();
  for (const def of queues) if (def.fair) windows.set(def.name, def.fair.window(config, def.policy));
  return windows;
}
