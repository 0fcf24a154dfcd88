/**
 * The restore-drill job (queue `backup-upkeep`, RESTORE_DRILL_CRON, weekly by default)
 * and `bulwark backup drill`: run a drill (lib/backup/drill.ts), record its evidence
 * (row + audit entry, lib/backup/drill-record.ts), count a failure, log the outcome,
 * and raise a `backup:drill-failed` alert with its runbook when it failed.
 */
import type { Queue } from 'bullmq';
import type pg from 'pg';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { Config } from '../../lib/config.js';
import { raiseBackupAlert } from '../../lib/backup/backup-alerts.js';
import { runRestoreDrill, type DrillBackups } from '../../lib/backup/drill.js';
import { recordDrill, type DrillRecord, type DrillTrigger } from '../../lib/backup/drill-record.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';
import type { Clock } from '../../lib/time.js';

export interface DrillRunDeps {
  config: Pick<Config, 'directDatabaseUrl' | 'runbookBaseUrl'>;
  prisma: PrismaClient;
  pg: pg.Pool;
  clock: Clock;
  logger: Logger;
  /** Counted in the process that ran the drill (the CLI has none to count in). */
  metrics?: Pick<Metrics, 'restoreDrillFailures'>;
  backups: DrillBackups;
  /** Where a failed drill's alert goes (the `alert` queue). */
  alertQueue: Queue;
}

/**
 * Run one drill and record it. Resolves with the record whether the drill passed or
 * failed; rejects only when it could not run (another drill running) or its evidence
 * could not be written (then the failure alert is still raised when it had failed).
 */
export async function performRestoreDrill(deps: DrillRunDeps, trigger: DrillTrigger): Promise<DrillRecord> {
  const log = deps.logger.child({ component: 'restore-drill' });
  const result = await runRestoreDrill({
    // The scratch database is created and dropped on the server itself, never through a pooler.
    databaseUrl: deps.config.directDatabaseUrl,
    backups: deps.backups,
    pool: deps.pg,
    clock: deps.clock,
    logger: log,
  });
  let record: DrillRecord | undefined;
  let recordError: unknown;
  try {
    record = await recordDrill(deps.prisma, result, trigger);
  } catch (err) {
    recordError = err;
    log.error(
      { event: 'restore_drill_unrecorded', err, backup_id: result.backupId, passed: result.passed },
      'the drill ran but its evidence could not be written',
    );
  }
  const fields = {
    drill_id: record?.id,
    backup_id: result.backupId,
    trigger,
    duration_ms: result.durationMs,
    backup_age_seconds: result.backupAgeSeconds,
    checks: result.checks.map((c) => `${c.name}:${c.ok ? 'ok' : 'failed'}`),
  };
  if (result.passed) {
    log.info({ event: 'restore_drill_passed', ...fields }, 'restore drill passed');
  } else {
    deps.metrics?.restoreDrillFailures.inc();
    log.error({ event: 'restore_drill_failed', ...fields, error: result.error }, 'restore drill failed');
    await raiseBackupAlert(
      deps.alertQueue,
      {
        type: 'backup:drill-failed',
        // The drill's row id; without a row, its start time (one alert per drill either way).
        key: record?.id ?? result.startedAt.toISOString(),
        title: `Restore drill failed${result.backupId ? ` for backup ${result.backupId}` : ''}`,
        body: `${result.error ?? 'failed'}. Evidence: bulwark backup drills.`,
        occurredAt: result.finishedAt,
        labels: {
          ...(result.backupId ? { backup_id: result.backupId } : {}),
          ...(record ? { drill_id: record.id } : {}),
          trigger,
        },
      },
      deps.config.runbookBaseUrl,
    ).catch((err: unknown) =>
      log.error(
        { event: 'backup_alert_failed', err, type: 'backup:drill-failed' },
        'could not raise the failed-drill alert',
      ),
    );
  }
  if (!record) throw recordError;
  return record;
}
