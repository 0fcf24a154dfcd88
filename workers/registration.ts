/**
 * What the worker registry (registry.ts) holds: each job definition (lib/contracts/)
 * with its processor factory and optional hooks. The composition root (app/workers.ts)
 * groups registrations by queue into one BullMQ Worker each, validates every payload
 * against its job's schema before the processor runs (parsePayload), and calls the
 * hooks on shutdown and on final failures.
 */
import { UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import type { z } from 'zod';
import type { AppContext } from '../lib/context.js';
import type { FairPart } from '../lib/fair/dispatcher.js';
import type { JobDefinition, QueueDefinition } from '../lib/contracts/job.js';
import { problemsFromZod } from '../lib/errors.js';
import type { AlertWorkerOptions } from './alert/deps.js';

/** Options a process passes its workers (tests point alert channels at local servers). */
export interface WorkerOptions {
  alerts?: AlertWorkerOptions;
}

/** What a processor factory and the hooks get: the process's context and shared parts. */
export interface WorkerScope {
  ctx: AppContext;
  options: WorkerOptions;
  /**
   * The one value `make` builds in this process (keyed by the function): what the
   * processors of one folder share, e.g. the alert worker's dependencies.
   */
  shared<T>(make: (scope: WorkerScope) => T): T;
  /** The process's one handle of a queue (to enqueue follow-up jobs on). */
  queue(def: QueueDefinition): Queue;
  /** Enqueue a tenant's job of a fair queue through the process's fair dispatcher (docs/decisions/0010). */
  enqueueFair(part: FairPart): Promise<'added' | 'parked'>;
}

/** Runs one job; `data` is already validated against the job's schema (unless parsesItself). */
export type JobProcessor<D> = (data: D, job: Job, token: string | undefined, worker: Worker) => Promise<unknown>;

/** A processor folder's side of one job kind: the registry pairs it with the job's definition. */
export interface JobHandler<D> {
  /** Builds the processor once per process, at start. */
  processor: (scope: WorkerScope) => JobProcessor<D>;
  /**
   * The processor validates the payload itself, at a time of its choosing (audit-write
   * waits for memory room before it parses a payload of up to 4 MiB).
   */
  parsesItself?: boolean;
  /** The queue worker's starting concurrency, instead of the queue policy's. */
  concurrency?: (scope: WorkerScope) => number;
  /** Awaited by stop() once the workers are closed (work a job left behind). Called once per function. */
  drain?: (scope: WorkerScope) => Promise<void>;
  /** At the shutdown deadline, for jobs still running: end what they hold. Called once per function. */
  abort?: (scope: WorkerScope) => void;
  /**
   * A job failed with no retry left (after it is counted and logged). For a job with no
   * name the queue knows, or none at all, each distinct hook of the queue is called.
   */
  onFinalFailure?: (scope: WorkerScope, job: Job | undefined, err: Error) => void;
  /**
   * Points the kind's domain gauges at their source (read at scrape time), in every
   * process that serves /metrics, with workers or without; `database`: the process has
   * Postgres (not the scheduler role). Called once per function, at start.
   */
  gauges?: (ctx: AppContext, parts: { database: boolean }) => void;
}

// A registry holds handlers of every payload type side by side; `register` matches each to its job.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Registration<D = any> extends JobHandler<D> {
  job: JobDefinition;
}

/** One registry line: a job definition and its handler, their payload types matched. */
export function register<S extends z.ZodType>(job: JobDefinition<S>, handler: JobHandler<z.output<S>>): Registration {
  return { job, ...handler };
}

/** The payload of a job of `def`, validated; an invalid one can never succeed: UnrecoverableError naming the fields. */
export function parsePayload<S extends z.ZodType>(def: JobDefinition<S>, data: unknown): z.output<S> {
  const parsed = def.schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const fields = problemsFromZod(parsed.error.issues).map((p) => `${p.path}: ${p.message}`);
  throw new UnrecoverableError(`invalid ${def.queue.name} job "${def.name}": ${fields.slice(0, 10).join('; ')}`);
}
