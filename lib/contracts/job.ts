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
  /** Its tenant jobs go through the fair dispatcher (lib/fair/, docs/decisions/0010); absent: added directly. */
  fair?: FairPolicy;
}

/**
 * The configuration a fair window may read: a structural subset of lib/config.ts's
 * Config (FAIR_AUDIT_WINDOW, FAIR_ALERT_WINDOW), as ScheduleConfig is.
 */
export interface FairConfig {
  fair: { auditWindow: number; alertWindow: number };
}

/** How a fair queue's tenant jobs are limited, charged and windowed (docs/decisions/0010). */
export interface FairPolicy {
  /** The tenant settings key under `jobs` holding a tenant's limits of the queue (lib/tenants/settings.ts). */
  setting: 'auditWrite' | 'alert' | 'retention';
  /** What the rate and the window count: `entries` (audit-write) or `jobs`. */
  unit: 'entries' | 'jobs';
  /** A job's largest cost: a tenant's turn of the round robin lets it send this much. */
  quantum: number;
  /** Cost in flight across every process until a worker process has written its window. */
  defaultWindow: number;
  /** The window the worker processes write: cost released to the workers and not finished, across every process. */
  window: (config: FairConfig, policy: QueuePolicy) => number;
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
  /** Validates each job's payload before its processor runs (the generic dispatch of app/workers.ts). */
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
