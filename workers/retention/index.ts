/**
 * The retention worker's side of the registry (workers/registry.ts). At start, once per
 * process, the last-success gauge is read from the newest finished receipt (so a
 * restart does not look like a missed run), and a run missed while every process was
 * down is caught up: when the newest finished receipt is over a day old and the
 * schedule's next run is more than an hour away, one run is added, under a job id per
 * UTC day, so several processes starting together add it once.
 */
import type { Queue } from 'bullmq';
import type { AppContext } from '../../lib/context.js';
import {
  RETENTION_SCHEDULER_ID,
  retentionQueue,
  retentionRunJob,
  retentionTenantJob,
  type RetentionRunJob,
  type RetentionTenantJob,
} from '../../lib/contracts/retention.js';
import { addJob, jobOf } from '../../lib/contracts/enqueue.js';
import type { JobHandler, WorkerScope } from '../registration.js';
import { processRetentionRun, processRetentionTenant, type RetentionDeps } from './processor.js';

const DAY_MS = 86_400_000;

function retentionDeps({ ctx, queue, enqueueFair }: WorkerScope): RetentionDeps {
  const q = queue(retentionQueue);
  void startUp(ctx, q);
  return {
    prisma: ctx.prisma,
    logger: ctx.logger.child({ queue: retentionQueue.name }),
    metrics: ctx.metrics,
    clock: ctx.clock,
    store: ctx.storage,
    batchSize: ctx.config.retentionBatchSize,
    maxMsPerClass: ctx.config.retentionMaxMsPerClass,
    // Through the fair dispatcher: one tenant's long purge holds back no other's (docs/decisions/0010).
    enqueueTenants: (jobs) =>
      Promise.all(
        jobs.map((j) =>
          enqueueFair({
            queue: retentionQueue.name,
            tenant: j.data.tenantId,
            job: jobOf(retentionTenantJob, j.data, j.opts),
            cost: 1,
          }),
        ),
      ),
  };
}

/** The gauge from the receipts, and the catch-up run; a failure here is logged, never fatal. */
async function startUp(ctx: AppContext, queue: Queue): Promise<void> {
  try {
    const [last] = await ctx.prisma.$queryRawUnsafe<Array<{ at: Date | null; tenants: number }>>(
      `SELECT (SELECT max(finished_at) FROM retention_receipts WHERE status = 'done') AS at, (SELECT count(*)::int FROM tenants) AS tenants`,
    );
    if (last?.at) ctx.metrics.retentionLastSuccess.set(last.at.getTime() / 1000);
    const now = ctx.clock().getTime();
    // Never run (a fresh install): nothing was missed; the schedule takes it from here.
    if (!last?.at || last.tenants === 0 || now - last.at.getTime() < DAY_MS + 3_600_000) return;
    // The scheduler is registered after the workers start: look for it for up to 30 s.
    let scheduler = await queue.getJobScheduler(RETENTION_SCHEDULER_ID);
    for (let i = 0; i < 6 && !scheduler; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5000).unref());
      scheduler = await queue.getJobScheduler(RETENTION_SCHEDULER_ID);
    }
    if (!scheduler?.next || scheduler.next - now < 3_600_000) return; // the scheduled run is due anyway
    const day = new Date(now).toISOString().slice(0, 10);
    await addJob(queue, retentionRunJob, { v: 1 }, { jobId: `retention-catch-up-${day}` });
    ctx.logger.info(
      { event: 'retention_catch_up', last_success: last.at?.toISOString() ?? null },
      'retention missed a run: one run added now',
    );
  } catch (err) {
    ctx.logger.warn({ event: 'retention_start_check_failed', err }, 'could not read the last retention run');
  }
}

export const retentionHandlers = {
  run: {
    processor: (scope) => {
      const deps = scope.shared(retentionDeps);
      return (data, job) => processRetentionRun(data, deps, job);
    },
  } satisfies JobHandler<RetentionRunJob>,
  tenant: {
    processor: (scope) => {
      const deps = scope.shared(retentionDeps);
      return (data) => processRetentionTenant(data, deps);
    },
    onFinalFailure: ({ ctx }) => ctx.metrics.retentionRuns.inc({ result: 'failed' }),
  } satisfies JobHandler<RetentionTenantJob>,
};
