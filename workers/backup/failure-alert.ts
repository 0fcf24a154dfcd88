/**
 * A backup job that failed with no retry left raises a `backup:failed` alert (system
 * tenant, critical, linking to docs/runbooks/backup-failing.md). Given to the backup
 * worker as its `onFinalFailure` (app/runtime/queue-worker.ts), which runs after the
 * failure is counted and logged. One alert per job: its id is derived from the job id.
 */
import type { Job, Queue } from 'bullmq';
import { raiseBackupAlert } from '../../lib/backup/backup-alerts.js';
import { alertQueue } from '../../lib/contracts/alert.js';
import type { Logger } from '../../lib/logger.js';
import { maskUrlCredentials } from '../../lib/redact.js';
import type { WorkerScope } from '../registration.js';

export function backupFailureAlerter(deps: {
  alertQueue: Queue;
  runbookBaseUrl: string | undefined;
  logger: Logger;
  clock: () => Date;
}) {
  /** Resolves once the alert is enqueued (or its failure logged); never rejects. */
  return async (job: Pick<Job, 'id' | 'data' | 'attemptsMade' | 'progress'> | undefined, err: Error): Promise<void> => {
    const data = (job?.data ?? {}) as { kind?: unknown; tenantId?: unknown };
    const kind = typeof data.kind === 'string' ? data.kind.slice(0, 20) : 'unknown';
    const backupId = (job?.progress as { backupId?: unknown } | undefined)?.backupId;
    const reason = maskUrlCredentials(err.message).split('\n')[0]!.slice(0, 500);
    await raiseBackupAlert(
      deps.alertQueue,
      {
        type: 'backup:failed',
        key: `job:${job?.id ?? deps.clock().toISOString()}`,
        title: `Backup failed (${kind})`,
        body: `The ${kind} backup${typeof backupId === 'string' && backupId ? ` ${backupId}` : ''} failed after ${job?.attemptsMade ?? '?'} attempt(s): ${reason}. Nothing of it is listed as restorable.`,
        occurredAt: deps.clock(),
        labels: {
          kind,
          ...(job?.id ? { job_id: String(job.id) } : {}),
          ...(typeof backupId === 'string' && backupId ? { backup_id: backupId } : {}),
        },
      },
      deps.runbookBaseUrl,
    ).then(
      () => undefined,
      (e: unknown) =>
        deps.logger.error(
          { event: 'backup_alert_failed', err: e, type: 'backup:failed' },
          'could not raise the failed-backup alert',
        ),
    );
  };
}

/** One alerter per process (scope.shared keys on this function). */
const alerterOf = (scope: WorkerScope) =>
  backupFailureAlerter({
    alertQueue: scope.queue(alertQueue),
    runbookBaseUrl: scope.ctx.config.runbookBaseUrl,
    logger: scope.ctx.logger,
    clock: scope.ctx.clock,
  });

/**
 * The hook for the backup job's registration (workers/registry.ts):
 * `register(backupJob, { ...handler, onFinalFailure: backupFailureHook })`.
 */
export function backupFailureHook(scope: WorkerScope, job: Job | undefined, err: Error): void {
  void scope.shared(alerterOf)(job, err);
}
