/**
 * The audit-checkpoint job (docs/audit-checkpoints.md): after each verification the
 * verify job enqueues the chain heads it read before walking (only of the chains it
 * found intact), and this job signs and writes them to the object store, one object
 * per tenant and hour. It runs on the audit-verify queue with its own retries: an
 * unreachable store is waited out for about 25 minutes (10 attempts, exponential from
 * 3 s), without walking the chains again.
 */
import { z } from 'zod';
import { TENANT_ID } from './common.js';
import { auditVerifyQueue } from './audit.js';
import { defineJob } from './job.js';

export const AUDIT_CHECKPOINT_JOB = 'checkpoint';
/** Heads per job: a run over more tenants enqueues several jobs. */
export const CHECKPOINT_HEADS_PER_JOB = 500;

const HEAD = z
  .object({
    tenantId: TENANT_ID,
    seq: z.string().regex(/^(0|[1-9]\d{0,18})$/, 'must be a decimal sequence number'),
    hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
  })
  .strict();

export const auditCheckpointJobSchema = z
  .object({
    v: z.literal(1),
    /** When the heads were read: the checkpoints' time, and their hour. */
    at: z.iso.datetime({ precision: 3, error: 'must be an ISO 8601 UTC time with milliseconds' }),
    heads: z
      .array(HEAD)
      .min(1, 'must hold at least one head')
      .max(CHECKPOINT_HEADS_PER_JOB, `must hold at most ${CHECKPOINT_HEADS_PER_JOB} heads`),
  })
  .strict();
export type AuditCheckpointJob = z.output<typeof auditCheckpointJobSchema>;

export const auditCheckpointJob = defineJob({
  queue: auditVerifyQueue,
  name: AUDIT_CHECKPOINT_JOB,
  schema: auditCheckpointJobSchema,
  opts: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 3000 },
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  },
});
