/**
 * The producer's side of fair dispatch (docs/decisions/0010): each audit-write or alert
 * job is charged to its tenant and goes through lib/fair's dispatcher, which adds it to
 * BullMQ at once when there is room and parks it otherwise. An audit job with security
 * alerts is parked together with them, in one script call: both or neither, as the flow add
 * was (strict-flows.ts), and each is released to its queue on its own.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../lib/clients/redis.js';
import { alertJob, type AlertJob } from '../lib/contracts/alert.js';
import { auditWriteJob, type AuditEntry, type AuditWriteJob } from '../lib/contracts/audit.js';
import { jobOf } from '../lib/contracts/enqueue.js';
import { createFairDispatcher, type FairPart } from '../lib/fair/dispatcher.js';

/** The tenant a job of entries of several tenants (writeMany of mixed entries) is charged to. */
export const MIXED_TENANT = '_mixed';

export interface FairProducerOptions {
  connection: RedisClient;
  prefix: string;
  auditQueue: Queue<AuditWriteJob>;
  alertQueue: Queue<AlertJob>;
  onError?: (err: Error) => void;
  /** The producer's enqueueTimeoutMs: the dispatcher's deadline budget. */
  deadlineBudgetMs?: number;
}

/** The one tenant of `entries`, or MIXED_TENANT. */
function tenantOf(entries: AuditEntry[]): string {
  const first = entries[0]!.tenantId;
  return entries.every((e) => e.tenantId === first) ? first : MIXED_TENANT;
}

export function createFairProducer(o: FairProducerOptions) {
  const dispatcher = createFairDispatcher({
    redis: o.connection,
    queuePrefix: o.prefix,
    queues: new Map([
      [auditWriteJob.queue, o.auditQueue as Queue],
      [alertJob.queue, o.alertQueue as Queue],
    ]),
    onError: (err) => o.onError?.(err),
    ...(o.deadlineBudgetMs ? { deadlineBudgetMs: o.deadlineBudgetMs } : {}),
  });
  const alertPart = (tenant: string, data: AlertJob, jobId: string): FairPart => ({
    queue: alertJob.queue.name,
    tenant,
    job: jobOf(alertJob, data, { jobId }),
    cost: 1,
  });
  return {
    /**
     * Enqueue one audit job (and the alerts its security entries raise); resolves with its
     * job id. `startedAt`: when its first caller began waiting (the deadline's origin).
     */
    async audit(
      entries: AuditEntry[],
      alerts: Array<{ data: AlertJob; jobId: string }>,
      startedAt?: number,
    ): Promise<string> {
      const jobId = randomUUID();
      const audit: FairPart = {
        queue: auditWriteJob.queue.name,
        tenant: tenantOf(entries),
        job: jobOf(auditWriteJob, { v: 1, entries }, { jobId }),
        cost: entries.length,
      };
      if (alerts.length === 0) await dispatcher.enqueue(audit, startedAt);
      else
        await dispatcher.parkTogether(
          [audit, ...alerts.map((a) => alertPart(a.data.alert.tenantId, a.data, a.jobId))],
          startedAt,
        );
      return jobId;
    },
    /** Enqueue one alert under its job id. */
    async alert(data: AlertJob, jobId: string, startedAt?: number): Promise<void> {
      await dispatcher.enqueue(alertPart(data.alert.tenantId, data, jobId), startedAt);
    },
    /** Wait for dispatches under way (before the queues close). */
    settle: () => dispatcher.settle(),
  };
}
