/**
 * Typed enqueueing from a job definition (job.ts): the job's name, queue and default
 * options come from its definition, the payload is checked against its schema's type at
 * compile time, so no code adds a job by a string name. Here, in the contracts, so every
 * layer may use it: producers, lib's domains, the workers and the CLI.
 */
import type { FlowJob, Job, JobsOptions, Queue } from 'bullmq';
import type { z } from 'zod';
import type { JobDefinition } from './job.js';

/** A job of `def` with `data`, its definition's options overridden by `opts`, for add, addBulk or fair dispatch. */
export function jobOf<S extends z.ZodType, O extends JobsOptions = JobsOptions>(
  def: JobDefinition<S>,
  data: z.input<S>,
  opts: O = {} as O,
): { name: string; data: z.input<S>; opts: JobsOptions & O } {
  return { name: def.name, data, opts: { ...def.opts, ...opts } };
}

/** Add one job of `def` to `queue` (the process's handle of its definition's queue). */
export async function addJob<S extends z.ZodType>(
  queue: Queue,
  def: JobDefinition<S>,
  data: z.input<S>,
  opts: JobsOptions = {},
): Promise<Job> {
  const job = jobOf(def, data, opts);
  return (await queue.add(job.name, job.data, job.opts)) as Job;
}

/** A node of a BullMQ flow for a job of `def`: its queue named by the definition, `children` run first. */
export function flowJobOf<S extends z.ZodType>(
  def: JobDefinition<S>,
  data: z.input<S>,
  opts: JobsOptions = {},
  children?: FlowJob[],
): FlowJob {
  return { ...jobOf(def, data, opts), queueName: def.queue.name, ...(children ? { children } : {}) };
}
