/**
 * The delayed alert-delivery jobs that send what a decision held back: a group's
 * `group-flush` when its wait ends, a tenant's `digest` when quiet hours end. Job ids
 * come from the content (`group-<group>`, `digest-<tenant>-<until>`), so every path
 * that defers into one window (decisions, group flushes, re-runs) shares one digest
 * job, and queuing again adds nothing while the first is kept.
 */
import { digestJob, groupFlushJob } from '../../../lib/contracts/alert-delivery.js';
import type { AlertDeps } from '../deps.js';
import { addJob } from '../../../lib/contracts/enqueue.js';

type ScheduleDeps = Pick<AlertDeps, 'deliveries' | 'clock'>;

const delayUntil = (ctx: ScheduleDeps, atMs: number) => Math.max(0, atMs - ctx.clock().getTime());

export async function scheduleDigest(ctx: ScheduleDeps, tenantId: string, until: Date): Promise<void> {
  await addJob(
    ctx.deliveries,
    digestJob,
    { v: 1, tenantId, until: until.toISOString() },
    { delay: delayUntil(ctx, until.getTime()), jobId: `digest-${tenantId}-${until.getTime()}` },
  );
}

/** Members may join until flushAt; flush just after it. */
export async function scheduleFlush(
  ctx: ScheduleDeps,
  tenantId: string,
  groupId: string,
  flushAt: Date,
): Promise<void> {
  await addJob(
    ctx.deliveries,
    groupFlushJob,
    { v: 1, tenantId, groupId },
    { delay: delayUntil(ctx, flushAt.getTime() + 250), jobId: `group-${groupId}` },
  );
}
