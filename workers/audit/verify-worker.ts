/**
 * The audit-verify job: walks the chains (hourly by default, see AUDIT_VERIFY_CRON),
 * records the result in metrics and as one structured log event per run, plus one
 * error event per broken chain so an alert can page on it.
 */
import type { Job } from 'bullmq';
import { AUDIT_VERIFY_QUEUE, auditVerifyJob, type AuditVerifyJob } from '../../lib/contracts/audit.js';
import type { AppContext } from '../../lib/context.js';
import { parsePayload } from '../registration.js';
import { verifyChains, type VerifyReport } from '../../lib/audit/verify.js';
import { erasureKeys } from '../../lib/privacy/erasure-record.js';
import type { CheckpointStep } from './checkpoint-worker.js';

export interface VerifySummary {
  ok: boolean;
  tenants: number;
  entries: number;
  broken: Array<{ tenantId: string; seq: string; problem: string }>;
}

/** Runs one audit-verify job outside a worker (tests): its payload validated as the worker's dispatch does. */
export function processAuditVerify(
  data: unknown,
  ctx: AppContext,
  job?: Pick<Job, 'id'>,
  checkpoints?: CheckpointStep,
): Promise<VerifySummary> {
  return runAuditVerify(parsePayload(auditVerifyJob, data), ctx, job, checkpoints);
}

/** The audit-verify job, its payload validated. */
export async function runAuditVerify(
  data: AuditVerifyJob,
  ctx: AppContext,
  job?: Pick<Job, 'id'>,
  checkpoints?: CheckpointStep,
): Promise<VerifySummary> {
  // Heads read before the walk are walked by it: checkpoints sign only what was checked.
  const pending = await checkpoints?.readHeads(data.tenantId);
  const report: VerifyReport = await verifyChains(ctx.prisma, {
    tenantId: data.tenantId,
    erasureKeys: erasureKeys(ctx.config).verifiers,
  });
  const broken = report.tenants
    .filter((t) => !t.ok && t.firstBad)
    .map((t) => ({ tenantId: t.tenantId, seq: t.firstBad!.seq, problem: t.firstBad!.problem }));
  const summary: VerifySummary = {
    ok: report.ok,
    tenants: report.tenants.length,
    entries: report.tenants.reduce((n, t) => n + t.entries, 0),
    broken,
  };
  ctx.metrics.auditVerifyRuns.inc({ result: report.ok ? 'ok' : 'broken' });
  ctx.metrics.auditBrokenChains.set(broken.length);
  ctx.metrics.auditVerifyLastRun.set(ctx.clock().getTime() / 1000);
  const log = ctx.logger.child({ queue: AUDIT_VERIFY_QUEUE, job_id: job?.id });
  for (const b of broken) {
    log.error(
      { event: 'audit_chain_broken', tenant_id: b.tenantId, seq: b.seq, problem: b.problem },
      'audit chain is broken',
    );
  }
  log.info(
    {
      event: 'audit_verify_completed',
      ok: summary.ok,
      tenants: summary.tenants,
      entries: summary.entries,
      broken: broken.length,
    },
    'audit chains verified',
  );
  if (pending && checkpoints) await checkpoints.enqueue(pending, report);
  return summary;
}
