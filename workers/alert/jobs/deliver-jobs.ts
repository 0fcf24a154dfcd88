/**
 * Queuing `deliver` jobs on alert-delivery. A job that takes over after the alert
 * job's inline attempt continues the same schedule: its attempt limit and backoff are
 * shifted by the attempts already spent, so an alert gets the documented 8 attempts
 * with exponential backoff from 2 s, whichever job made them.
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import {
  DELIVER_MAX_ALERTS,
  alertDeliveryPolicy,
  deliverJob as deliverDefinition,
  type DeliverJob,
} from '../../../lib/contracts/alert-delivery.js';
import { jobOf } from '../../../lib/contracts/enqueue.js';

const { attempts, backoff, backoffJitter } = alertDeliveryPolicy;

/** Options of every alert-delivery job (deliver, group-flush, digest): the contract's. */
export const deliveryJobOpts = deliverDefinition.opts;

/** BullMQ's exponential delay with jitter, for the wait after `attemptsMade` failed attempts. */
export function backoffDelay(attemptsMade: number, random: () => number = Math.random): number {
  const max = Math.round(2 ** (attemptsMade - 1) * backoff.delay);
  return Math.floor(random() * max * backoffJitter + max * (1 - backoffJitter));
}

export interface DeliverRequest {
  tenantId: string;
  channelId: string;
  kind: DeliverJob['kind'];
  alertIds: string[];
  /** Makes the job id: the same request queued twice is one job. */
  key: string;
  /** Attempts already made inline (0 when none, or when a 429 spent none). */
  priorAttempts?: number;
  /** Wait before the first queued attempt (a 429's Retry-After, or the backoff). */
  delayMs?: number;
}

export function deliverJob(r: DeliverRequest) {
  const prior = r.priorAttempts ?? 0;
  const data: DeliverJob = {
    v: 1,
    tenantId: r.tenantId,
    channelId: r.channelId,
    kind: r.kind,
    alertIds: r.alertIds,
    ...(prior > 0 ? { priorAttempts: prior } : {}),
  };
  return jobOf(deliverDefinition, data, {
    attempts: attempts - prior,
    backoff: { ...deliveryJobOpts.backoff!, delay: backoff.delay * 2 ** prior },
    jobId: `deliver-${r.key}-${r.channelId}`,
    ...(r.delayMs ? { delay: Math.max(0, Math.round(r.delayMs)) } : {}),
  });
}

/**
 * The request key a deliver job was queued with, read back from its id (deliverJob
 * makes the id from it): a queued send keeps it on its channel's row, so the row names
 * its job even when the send finished before the fan-out recorded the row as delivering.
 * Undefined for an id of another shape.
 */
export function deliverJobKey(jobId: string | undefined, channelId: string): string | undefined {
  const prefix = 'deliver-';
  const suffix = `-${channelId}`;
  if (!jobId?.startsWith(prefix) || !jobId.endsWith(suffix) || jobId.length <= prefix.length + suffix.length)
    return undefined;
  return jobId.slice(prefix.length, -suffix.length);
}

export async function enqueueDeliveries(queue: Queue, requests: DeliverRequest[]): Promise<void> {
  if (requests.length > 0) await queue.addBulk(requests.map(deliverJob));
}

/**
 * Part of a group's or digest's deliver job ids: the alerts it sends. The same flush run
 * again with the same rows is the same job; a later flush of rows that came late (a
 * member recorded after the flush read the group, or a sweep) is a job of its own.
 */
export function idsKey(ids: string[]): string {
  return createHash('sha256')
    .update([...ids].sort().join(','))
    .digest('hex')
    .slice(0, 16);
}

/** The alerts of a group or digest in job-sized parts (DELIVER_MAX_ALERTS each), each with its key. */
export function deliveryParts(ids: string[], keyBase: string): Array<{ ids: string[]; key: string }> {
  const parts: Array<{ ids: string[]; key: string }> = [];
  for (let i = 0; i < ids.length; i += DELIVER_MAX_ALERTS) {
    const part = ids.slice(i, i + DELIVER_MAX_ALERTS);
    parts.push({ ids: part, key: `${keyBase}-${idsKey(part)}` });
  }
  return parts;
}
