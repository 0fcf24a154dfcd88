/**
 * The producer's side of fair dispatch (docs/decisions/0010): each audit-write or alert
 * job is charged to its tenant and goes through lib/fair's dispatcher, which adds it to
 * BullMQ at once when there is room and parks it otherwise. An audit job with security
 * alerts is parked together with them, in one MULTI: both or neither, as the flow add
 * was (strict-flows.ts), and each is released to its queue on its own.
 */
import { randomUUID } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { RedisClient } from '../lib/clients/redis.js';
import { ALERT_JOB, ALERT_QUEUE, alertQueue, type AlertJob } from '../lib/contracts/alert.js';
import {
  AUDIT_WRITE_JOB,
  AUDIT_WRITE_QUEUE,
  auditWriteQueue,
  type AuditEntry,
  type AuditWriteJob,
} from '../lib/contracts/audit.js';
import { createFairDispatcher, type FairPart } from '../lib/fair/dispatcher.js';

/** The tenant a job of entries of several tenants (writeMany of mixed entries) is charged to. */
export const MIXED_TENANT = '_mixed';

export interface FairProducerOptions {
  connection: RedisClient;
  prefix: string;
  auditQueue: Queue<AuditWriteJob>;
  alertQueue: Queue<AlertJob>;
  auditOptions: JobsOptions;
  alertOptions: JobsOptions;
  onError?: (err: Error) => void;
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
      [auditWriteQueue, o.auditQueue as Queue],
      [alertQueue, o.alertQueue as Queue],
    ]),
    onError: (err) => o.onError?.(err),
  });
  const alertPart = (tenant: string, data: AlertJob, jobId: string): FairPart => ({
    queue: ALERT_QUEUE,
    tenant,
    job: { name: ALERT_JOB, data, opts: { ...o.alertOptions, jobId } },
    cost: 1,
  });
  return {
    /** Enqueue one audit job (and the alerts its security entries raise); resolves with its job id. */
    async audit(entries: AuditEntry[], alerts: Array<{ data: AlertJob; jobId: string }>): Promise<string> {
      const jobId = randomUUID();
      const audit: FairPart = {
        queue: AUDIT_WRITE_QUEUE,
        tenant: tenantOf(entries),
        job: {
          name: AUDIT_WRITE_JOB,
          data: { v: 1, entries } satisfies AuditWriteJob,
          opts: { ...o.auditOptions, jobId },
        },
        cost: entries.length,
      };
      if (alerts.length === 0) await dispatcher.enqueue(audit);
      else
        await dispatcher.parkTogether([audit, ...alerts.map((a) => alertPart(a.data.alert.tenantId, a.data, a.jobId))]);
      return jobId;
    },
    /** Enqueue one alert under its job id. */
    async alert(data: AlertJob, jobId: string): Promise<void> {
      await dispatcher.enqueue(alertPart(data.alert.tenantId, data, jobId));
    },
    /** Wait for dispatches under way (before the queues close). */
    settle: () => dispatcher.settle(),
  };
}
