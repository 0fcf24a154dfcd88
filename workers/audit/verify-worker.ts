/**
 * The audit-verify job: walks the chains (hourly by default, see AUDIT_VERIFY_CRON),
 * records the result in metrics and as one structured log event per run, plus one
 * error event per broken chain so an alert can page on it.
 */
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { AUDIT_VERIFY_QUEUE, auditVerifyJobSchema, auditVerifyPolicy } from '../../lib/contracts/audit.js';
import type { AppContext } from '../../lib/context.js';
import { createQueueWorker } from '../../app/runtime/queue-worker.js';
import { verifyChains, type VerifyReport } from '../../lib/audit/verify.js';

export interface VerifySummary {
  ok: boolean;
  tenants: number;
  entries: number;
  broken: Array<{ tenantId: string; seq: string; problem: string }>;
}

export async function processAuditVerify(data: unknown, ctx: AppContext, job?: Pick<Job, 'id'>): Promise<VerifySummary> {
  const parsed = auditVerifyJobSchema.safeParse(data);
  if (!parsed.success) throw new UnrecoverableError(`invalid audit-verify payload: ${parsed.error.issues[0]?.message}`);
  const report: VerifyReport = await verifyChains(ctx.prisma, { tenantId: parsed.data.tenantId });
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
    log.error({ event: 'audit_chain_broken', tenant_id: b.tenantId, seq: b.seq, problem: b.problem }, 'audit chain is broken');
  }
  log.info({ event: 'audit_verify_completed', ok: summary.ok, tenants: summary.tenants, entries: summary.entries, broken: broken.length }, 'audit chains verified');
  return summary;
}

export function createAuditVerifyWorker(ctx: AppContext): Worker<unknown, VerifySummary> {
  return createQueueWorker<unknown, VerifySummary>(ctx, {
    queue: AUDIT_VERIFY_QUEUE,
    policy: auditVerifyPolicy,
    processor: (job) => processAuditVerify(job.data, ctx, job),
  });
}
