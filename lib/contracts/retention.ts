/**
 * The retention queue. A scheduled `run` job (daily at RETENTION_CRON, 02:00 UTC by
 * default) fans out one `tenant` job per tenant; each applies that tenant's TTLs
 * (lib/retention/run.ts). The policy keeps a large tenant's purge from starving audit
 * writes or other tenants: two tenant jobs at once per process, at most two started
 * per second across all processes, and each class's deletion in batches bounded in
 * count and time.
 */
import { z } from 'zod';
import { TENANT_ID, type QueuePolicy } from './common.js';
import { defineJob, type QueueDefinition } from './job.js';

export const RETENTION_QUEUE = 'retention';
export const RETENTION_RUN_JOB = 'run';
export const RETENTION_TENANT_JOB = 'tenant';
export const RETENTION_SCHEDULER_ID = 'retention-daily';

/** A run id: letters, digits and `.:_-`, e.g. the scheduled time `2026-12-07T02:00:00.000Z`. */
const RUN_ID = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9.:_-]{0,63}$/, 'must be 1-64 letters, digits, ".", ":", "_" or "-"');

/** The fan-out: every tenant (or one), under one run id (default: the job's time). */
export const retentionRunJobSchema = z
  .object({ v: z.literal(1), runId: RUN_ID.optional(), tenantId: TENANT_ID.optional() })
  .strict();
export type RetentionRunJob = z.output<typeof retentionRunJobSchema>;

/** One tenant's retention under a run. */
export const retentionTenantJobSchema = z.object({ v: z.literal(1), runId: RUN_ID, tenantId: TENANT_ID }).strict();
export type RetentionTenantJob = z.output<typeof retentionTenantJobSchema>;

export const retentionPolicy: QueuePolicy = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 30_000 },
  concurrency: 2,
  limiter: { max: 2, duration: 1000 },
  removeOnComplete: { count: 500 },
  removeOnFail: { count: 1000 },
};

/** The tenant job's id: one per tenant and run, so a fan-out retried never runs a tenant twice. */
export function retentionTenantJobId(runId: string, tenantId: string): string {
  return `retention-${runId.replaceAll(':', '-')}-${tenantId}`;
}

/** Dispatched fairly by jobs: a tenant's purges wait their turn; twice the concurrency in flight. */
export const retentionQueue: QueueDefinition = {
  name: RETENTION_QUEUE,
  policy: retentionPolicy,
  fair: { setting: 'retention', unit: 'jobs', quantum: 1, defaultWindow: 4, window: (_c, p) => 2 * p.concurrency },
};

/** The daily fan-out, on RETENTION_CRON in UTC. */
export const retentionRunJob = defineJob({
  queue: retentionQueue,
  name: RETENTION_RUN_JOB,
  schema: retentionRunJobSchema,
  schedule: {
    id: RETENTION_SCHEDULER_ID,
    repeat: (config) => ({ pattern: config.retentionCron, tz: 'UTC' }),
    data: { v: 1 },
  },
});

/** One tenant's retention under a run (added by the fan-out, one id per run and tenant). */
export const retentionTenantJob = defineJob({
  queue: retentionQueue,
  name: RETENTION_TENANT_JOB,
  schema: retentionTenantJobSchema,
});
