/**
 * Audit checkpoints (docs/audit-checkpoints.md), two parts:
 *  - the verify job's step (checkpointStep): read the chain heads before the walk,
 *    then enqueue those of the chains the walk found intact as audit-checkpoint jobs;
 *  - the audit-checkpoint job (runAuditCheckpoint): sign each head and write it to the
 *    object store once. The store failing fails the attempt (StorageUnavailableError),
 *    and BullMQ retries it with the contract's backoff; what was written is kept.
 * With AUDIT_CHECKPOINT_WEBHOOK_URL the checkpoints written are also POSTed there
 * (lib/checkpoints/webhook.ts), best effort. Without AUDIT_CHECKPOINT_KEY there is no
 * step and nothing is enqueued.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import {
  auditCheckpointJob,
  CHECKPOINT_HEADS_PER_JOB,
  type AuditCheckpointJob,
} from '../../lib/contracts/checkpoint.js';
import { AUDIT_VERIFY_QUEUE } from '../../lib/contracts/audit.js';
import type { AppContext } from '../../lib/context.js';
import type { VerifyReport } from '../../lib/audit/verify.js';
import type { ChainHead } from '../../lib/checkpoints/format.js';
import { checkpointKeys } from '../../lib/checkpoints/keys.js';
import { readCheckpoint } from '../../lib/checkpoints/store.js';
import { postCheckpoints } from '../../lib/checkpoints/webhook.js';
import { readChainHeads, writeCheckpoints, type WriteResult } from '../../lib/checkpoints/write.js';
import { jobOf } from '../../lib/contracts/enqueue.js';
import type { JobHandler, WorkerScope } from '../registration.js';

/** The heads read before a walk, and when. */
export interface PendingCheckpoints {
  at: string;
  heads: ChainHead[];
}

export interface CheckpointStep {
  /** Before the walk: every entry up to these heads is then walked. */
  readHeads(tenantId: string | undefined): Promise<PendingCheckpoints>;
  /** After it: enqueue the heads of the chains found intact; how many. */
  enqueue(pending: PendingCheckpoints, report: VerifyReport): Promise<number>;
}

/** The process's checkpoint keys, parsed once (the values were validated at start-up). */
const keysOf = ({ ctx }: WorkerScope) => checkpointKeys(ctx.config);

/** The verify job's checkpoint step, or undefined when AUDIT_CHECKPOINT_KEY is not set. */
export function checkpointStep(scope: WorkerScope): CheckpointStep | undefined {
  if (!scope.shared(keysOf).signer) return undefined;
  const { ctx } = scope;
  return {
    async readHeads(tenantId) {
      const at = ctx.clock().toISOString();
      return { at, heads: await readChainHeads(ctx.prisma, tenantId) };
    },
    async enqueue(pending, report) {
      const intact = new Set(report.tenants.filter((t) => t.ok).map((t) => t.tenantId));
      const heads = pending.heads.filter((h) => intact.has(h.tenantId));
      const jobs = [];
      for (let i = 0; i < heads.length; i += CHECKPOINT_HEADS_PER_JOB)
        jobs.push(
          jobOf(auditCheckpointJob, { v: 1, at: pending.at, heads: heads.slice(i, i + CHECKPOINT_HEADS_PER_JOB) }),
        );
      if (jobs.length > 0) await scope.queue(auditCheckpointJob.queue).addBulk(jobs);
      return heads.length;
    },
  };
}

/** One audit-checkpoint job: sign and write its heads; counts in metrics and one log event. */
export async function runAuditCheckpoint(
  data: AuditCheckpointJob,
  ctx: AppContext,
  job?: Pick<Job, 'id' | 'attemptsMade'>,
): Promise<WriteResult> {
  const { signer } = checkpointKeys(ctx.config);
  if (!signer)
    throw new UnrecoverableError('AUDIT_CHECKPOINT_KEY is not set in this process: it cannot sign checkpoints');
  const written: Buffer[] = [];
  const found: string[] = [];
  const result = await writeCheckpoints({ storage: ctx.storage, pool: ctx.pg, signer }, data, (key, put, body) =>
    put === 'written' ? written.push(body) : found.push(key),
  );
  ctx.metrics.auditCheckpoints.inc({ result: 'written' }, result.written);
  ctx.metrics.auditCheckpoints.inc({ result: 'exists' }, result.exists);
  ctx.metrics.auditCheckpointLastSuccess.set(ctx.clock().getTime() / 1000);
  ctx.logger.info(
    {
      event: 'audit_checkpoints_written',
      queue: AUDIT_VERIFY_QUEUE,
      job_id: job?.id,
      hour: result.hour,
      written: result.written,
      exists: result.exists,
      key_id: signer.publicKey.id,
    },
    'audit checkpoints written',
  );
  if (ctx.config.auditCheckpointWebhookUrl) {
    // A retry also sends what an earlier attempt of this job wrote before it failed.
    const earlier = (job?.attemptsMade ?? 0) > 0 ? await readAll(ctx, found) : [];
    await sendToWebhook(ctx, ctx.config.auditCheckpointWebhookUrl, [...written, ...earlier], job?.id);
  }
  return result;
}

async function readAll(ctx: AppContext, keys: readonly string[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const key of keys) {
    const body = await readCheckpoint(ctx.storage, key);
    if (body) out.push(body);
  }
  return out;
}

/** The second place (AUDIT_CHECKPOINT_WEBHOOK_URL): best effort, counted and logged, never failing the job. */
async function sendToWebhook(ctx: AppContext, url: string, documents: Buffer[], jobId: string | undefined) {
  if (documents.length === 0) return;
  const sent = await postCheckpoints(url, documents, ctx.config.alertHttpTimeoutMs);
  ctx.metrics.auditCheckpointWebhook.inc({ result: sent.ok ? 'sent' : 'failed' });
  const fields = { queue: AUDIT_VERIFY_QUEUE, job_id: jobId, checkpoints: documents.length, attempts: sent.attempts };
  if (sent.ok) ctx.logger.info({ event: 'audit_checkpoints_webhook_sent', ...fields }, 'audit checkpoints posted');
  else
    ctx.logger.warn(
      { event: 'audit_checkpoints_webhook_failed', ...fields, error: sent.detail },
      'audit checkpoints could not be posted to AUDIT_CHECKPOINT_WEBHOOK_URL (they are in the object store)',
    );
}

export const checkpointHandler: JobHandler<AuditCheckpointJob> = {
  processor: (scope) => {
    scope.ctx.metrics.auditCheckpointsEnabled.set(scope.shared(keysOf).signer ? 1 : 0);
    return (data, job) => runAuditCheckpoint(data, scope.ctx, job);
  },
  // No retry left: this hour's checkpoints of these tenants are missing for good.
  onFinalFailure: ({ ctx }, job, err) => {
    const heads = (job?.data as Partial<AuditCheckpointJob> | undefined)?.heads;
    const n = Array.isArray(heads) ? heads.length : 0;
    ctx.metrics.auditCheckpoints.inc({ result: 'failed' }, n);
    ctx.logger.error(
      {
        event: 'audit_checkpoints_failed',
        queue: AUDIT_VERIFY_QUEUE,
        job_id: job?.id,
        tenants: n,
        at: (job?.data as Partial<AuditCheckpointJob> | undefined)?.at,
        err: err.message,
      },
      'audit checkpoints could not be written: this hour is missing for these tenants',
    );
  },
};
