/**
 * Alerts Bulwark raises itself when a backup or a restore drill fails: an alert job
 * for the system tenant (its channels are the operators'), linking to the runbook
 * (lib/runbooks.ts). The alert id is derived from what failed (version 8, the version
 * reserved for alerts Bulwark raises), so raising it again for the same failure, after
 * a retry say, enqueues it once.
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { SYSTEM_TENANT_ID } from '../audit/record.js';
import { RESERVED_ALERT_ID_VERSION, alertJob, alertJobSchema, type AlertJob } from '../contracts/alert.js';
import { addJob } from '../contracts/enqueue.js';
import { runbookUrlFor } from '../runbooks.js';

/** The alert types raised here; each has its runbook page in lib/runbooks.ts. */
export type BackupAlertType = 'backup:failed' | 'backup:drill-failed';

export interface BackupAlert {
  type: BackupAlertType;
  /** What failed, unique per failure: a drill's id, a backup job's id and attempt. */
  key: string;
  title: string;
  body: string;
  occurredAt: Date;
  /** Shown with the alert (no secrets: ids, check names, masked messages). */
  labels?: Record<string, string>;
}

function derivedId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${RESERVED_ALERT_ID_VERSION}${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The alert job (validated against the alert contract, so a bad one fails here, not in the worker). */
export function backupAlertJob(alert: BackupAlert, runbookBaseUrl: string | undefined): AlertJob {
  const runbookUrl = runbookUrlFor(runbookBaseUrl, alert.type);
  return alertJobSchema.parse({
    v: 1,
    alert: {
      id: derivedId('backup-alert', alert.type, alert.key),
      tenantId: SYSTEM_TENANT_ID,
      type: alert.type,
      severity: 'critical',
      title: alert.title.slice(0, 200),
      body: alert.body.slice(0, 4000),
      labels: { source: 'backup', ...alert.labels },
      groupKey: alert.type,
      ...(runbookUrl ? { runbookUrl } : {}),
      occurredAt: alert.occurredAt.toISOString(),
    },
  });
}

/** Enqueue the alert on the alert queue (job id from the alert id: once per failure). */
export async function raiseBackupAlert(
  alertQueue: Queue,
  alert: BackupAlert,
  runbookBaseUrl: string | undefined,
): Promise<AlertJob> {
  const job = backupAlertJob(alert, runbookBaseUrl);
  await addJob(alertQueue, alertJob, job, { jobId: `alert-${job.alert.tenantId}-${job.alert.id}` });
  return job;
}
