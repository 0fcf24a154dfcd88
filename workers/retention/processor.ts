/**
 * The retention job's two processors, plain functions over their dependencies. `run`
 * fans out one `tenant` job per tenant (job ids per run and tenant, so a retried
 * fan-out adds nothing twice); `tenant` applies that tenant's TTLs. A payload that can
 * never succeed fails at once (UnrecoverableError); a failure of Postgres or the
 * object store throws, and BullMQ retries with backoff: the receipt left `running`
 * is resumed by the retry, under the same cutoff.
 */
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import {
  retentionRunJobSchema,
  retentionTenantJobId,
  retentionTenantJobSchema,
  type RetentionTenantJob,
} from '../../lib/contracts/retention.js';
import type { Metrics } from '../../lib/metrics.js';
import { StorageUnavailableError } from '../../lib/clients/storage.js';
import type { ObjectStore } from '../../lib/retention/object-store.js';
import { runTenantRetention, type ClassOutcome } from '../../lib/retention/run.js';

export interface RetentionDeps {
  prisma: PrismaClient;
  logger: Logger;
  metrics: Pick<Metrics, 'retentionDeleted' | 'retentionLastSuccess' | 'retentionRuns'>;
  /** Adds the tenant jobs (retentionTenantJob, with their ids). */
  enqueueTenants: (jobs: Array<{ data: RetentionTenantJob; opts: { jobId: string } }>) => Promise<unknown>;
  /** The object store (ctx.storage); without one, object classes are skipped. */
  store?: ObjectStore;
  clock: () => Date;
  /** Rows and keys per batch. Default: lib/retention/run.ts ROW_BATCH rows, OBJECT_BATCH keys. */
  batchSize?: number;
  /** Time one class may take per run. Default: 60000 ms. */
  maxMsPerClass?: number;
}

function parse<T>(
  schema: {
    safeParse(
      d: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
  },
  data: unknown,
  what: string,
): T {
  const r = schema.safeParse(data);
  if (!r.success)
    throw new UnrecoverableError(
      `invalid ${what} payload: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return r.data;
}

export async function processRetentionRun(
  data: unknown,
  deps: RetentionDeps,
  job?: { timestamp?: number },
): Promise<{ runId: string; tenants: number }> {
  const d = parse(retentionRunJobSchema, data, 'retention run');
  const runId = d.runId ?? new Date(job?.timestamp ?? deps.clock().getTime()).toISOString();
  const tenants = d.tenantId
    ? [{ id: d.tenantId }]
    : await deps.prisma.tenant.findMany({ select: { id: true }, orderBy: { id: 'asc' } });
  await deps.enqueueTenants(
    tenants.map((t) => ({
      data: { v: 1, runId, tenantId: t.id },
      opts: { jobId: retentionTenantJobId(runId, t.id) },
    })),
  );
  deps.logger.info(
    { event: 'retention_fanned_out', run_id: runId, tenants: tenants.length },
    'retention run fanned out',
  );
  return { runId, tenants: tenants.length };
}

export async function processRetentionTenant(
  data: unknown,
  deps: RetentionDeps,
): Promise<Array<Record<string, unknown>>> {
  const d = parse(retentionTenantJobSchema, data, 'retention tenant');
  const found = await deps.prisma.tenant.findUnique({ where: { id: d.tenantId }, select: { id: true } });
  if (!found) throw new UnrecoverableError(`no tenant ${d.tenantId}`);
  const out: ClassOutcome[] = await runTenantRetention(deps.prisma, d.tenantId, {
    runId: d.runId,
    store: deps.store,
    batchSize: deps.batchSize,
    maxMsPerClass: deps.maxMsPerClass,
    now: deps.clock,
    onDeleted: (cls, n) => deps.metrics.retentionDeleted.inc({ class: cls }, n),
  });
  for (const o of out) {
    if (o.deleted || o.held) {
      deps.logger.info(
        {
          event: 'retention_purged',
          tenant_id: d.tenantId,
          run_id: d.runId,
          class: o.class,
          deleted: o.deleted,
          held: o.held,
          complete: o.complete,
          receipt_id: o.receiptId,
        },
        'retention purged a class',
      );
    }
  }
  const failed = out.filter((o) => o.error);
  if (failed.length) {
    for (const o of failed)
      deps.logger.warn(
        {
          event: 'retention_class_failed',
          tenant_id: d.tenantId,
          run_id: d.runId,
          class: o.class,
          deleted: o.deleted,
          receipt_id: o.receiptId,
          error: o.error,
        },
        'retention stopped a class: the object store failed; the receipt keeps what was done and the job is retried',
      );
    // BullMQ retries the job with backoff; the retry resumes the running receipts and
    // skips the classes this run already finished.
    throw new StorageUnavailableError(
      `retention of tenant ${d.tenantId} stopped for ${failed.map((o) => o.class).join(', ')}: ${failed[0]!.error}`,
    );
  }
  deps.metrics.retentionLastSuccess.set(deps.clock().getTime() / 1000);
  deps.metrics.retentionRuns.inc({ result: 'ok' });
  return out.map((o) => ({
    class: o.class,
    deleted: o.deleted,
    held: o.held,
    complete: o.complete,
    receiptId: o.receiptId,
  }));
}
