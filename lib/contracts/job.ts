/**
 * What defines a job kind, once: its queue (with the queue's worker policy), its name,
 * its payload schema (versioned by `v`), the options every job of the kind is added
 * with, and optionally a schedule read from the configuration. The worker registry
 * (workers/registry.ts) pairs each definition with its processor; the composition root
 * (app/) builds queues, workers, the scheduler and Bull Board from those pairs.
 */
import type { z } from 'zod';
import type { QueuePolicy } from './common.js';

/** A queue and the policy its worker runs with (concurrency and limiter are per queue in BullMQ). */
export interface QueueDefinition {
  name: string;
  policy: QueuePolicy;
}

/** Options a job is added with (a subset of BullMQ's JobsOptions). */
export interface JobOptions {
  attempts: number;
  backoff?: { type: 'exponential' | 'fixed'; delay: number; jitter?: number };
  removeOnComplete: { count: number; age?: number };
  removeOnFail: { count: number; age?: number };
}

/**
 * The configuration a schedule may read: a structural subset of lib/config.ts's Config,
 * so contracts keep importing nothing else of the project. A new schedule adds its field.
 */
export interface ScheduleConfig {
  auditVerifyCron: string;
  backupCron: string;
  restoreDrillCron: string;
  retentionCron: string;
}

/** A repeatable job: BullMQ job schedulers are upserted by id, so every process may start it. */
export interface JobSchedule<D> {
  id: string;
  repeat: (config: ScheduleConfig) => { pattern: string; tz: string } | { every: number };
  /** The payload each scheduled run gets. */
  data: D;
}

export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  queue: QueueDefinition;
  name: string;
  /** Validates each job's payload before its processor runs (workers/dispatch.ts). */
  schema: S;
  opts: JobOptions;
  schedule?: JobSchedule<z.input<S>>;
}

/** The options a queue's policy gives its jobs: attempts, backoff, what is kept. */
export function policyJobOptions(policy: QueuePolicy): JobOptions {
  return {
    attempts: policy.attempts,
    backoff: policy.backoff,
    removeOnComplete: policy.removeOnComplete,
    removeOnFail: policy.removeOnFail,
  };
}

/** A job definition; `opts` default to the queue policy's. */
export function defineJob<S extends z.ZodType>(
  def: Omit<JobDefinition<S>, 'opts'> & { opts?: JobOptions },
): JobDefinition<S> {
  return { ...def, opts: def.opts ?? policyJobOptions(def.queue.policy) };
}
