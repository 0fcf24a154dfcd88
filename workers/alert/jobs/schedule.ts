/**
 * The delayed alert-delivery jobs that send what a decision held back: a group's
 * `group-flush` when its wait ends, a tenant's `digest` when quiet hours end. Job ids
 * come from the content (`group-<group>`, `digest-<tenant>-<until>`), so every path
 * that defers into one window (decisions, group flushes, re-runs) shares one digest
 * job, and queuing again adds nothing while the first is kept.
 */
import type { Queue } from 'bullmq';
import { deliveryJobOpts } from './deliver-jobs.js';

export interface ScheduleContext {
  deliveries: Queue;
  clock: () => Date;
}

export function scheduleDigest(ctx: ScheduleContext, tenantId: string, until: Date): Promise<void> {
  return addOnce(ctx, 'digest', { v: 1, tenantId, until: until.toISOString() }, until.getTime(), `digest-${tenantId}-${until.getTime()}`);
}

/** Members may join until flushAt; flush just after it. */
export function scheduleFlush(ctx: ScheduleContext, tenantId: string, groupId: string, flushAt: Date): Promise<void> {
  return addOnce(ctx, 'group-flush', { v: 1, tenantId, groupId }, flushAt.getTime() + 250, `group-${groupId}`);
}

async function addOnce(ctx: ScheduleContext, name: string, data: object, atMs: number, jobId: string): Promise<void> {
  await ctx.deliveries.add(name, data, { ...deliveryJobOpts, delay: Math.max(0, atMs - ctx.clock().getTime()), jobId });
}
