/**
 * Typed enqueueing from a job definition (lib/contracts/job.ts): the job's name and
 * default options come from its definition, the payload is checked against its schema's
 * type at compile time, so no code adds a job by a string name.
 */
import type { JobsOptions, Queue } from 'bullmq';
import type { z } from 'zod';
import type { JobDefinition } from '../lib/contracts/job.js';

/** A job of `def` with `data`, its definition's options overridden by `opts`, for add or addBulk. */
export function jobOf<S extends z.ZodType>(def: JobDefinition<S>, data: z.input<S>, opts: JobsOptions = {}): { name: string; data: z.input<S>; opts: JobsOptions } {
  return { name: def.name, data, opts: { ...def.opts, ...opts } };
}

/** Add one job of `def` to `queue` (the queue of its definition). */
export async function addJob<S extends z.ZodType>(queue: Queue, def: JobDefinition<S>, data: z.input<S>, opts: JobsOptions = {}): Promise<void> {
  const job = jobOf(def, data, opts);
  await queue.add(job.name, job.data, job.opts);
}
