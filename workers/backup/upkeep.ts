/**
 * The `backup-upkeep` queue's side of the registry (workers/registry.ts): `nightly`
 * (BACKUP_CRON: adds the backup-then-prune flow), `prune` (retention, after each
 * nightly backup) and `drill` (RESTORE_DRILL_CRON). One job at a time per process;
 * drills and prunes exclude each other across processes through the upkeep lock.
 */
import type { Job } from 'bullmq';
import type { BackupNightlyJob, BackupPruneJob, RestoreDrillJob } from '../../lib/contracts/drill.js';
import { alertQueue } from '../../lib/contracts/alert.js';
import { readDrillGauges } from '../../lib/backup/drill-record.js';
import { drillBackupsOf } from '../../lib/backup/upkeep-adapters.js';
import type { JobHandler } from '../registration.js';
import { performRestoreDrill } from './drill.js';
import { addNightlyFlow } from './nightly.js';
import { prune } from './prune.js';

/** What a drill job returns (Bull Board shows it). */
export interface DrillJobResult {
  drillId: string;
  backupId: string | undefined;
  passed: boolean;
  durationMs: number | undefined;
  error: string | undefined;
}

/** What a prune job returns. */
export interface PruneJobResult {
  dryRun: boolean;
  deleted: string[];
  kept: number;
  unverified: string[];
  errors: string[];
}

const nightly: JobHandler<BackupNightlyJob> = {
  processor:
    ({ ctx }) =>
    async (_data, job: Job) => {
      // The scheduled time, not now: a retry of this job adds the same flow (same ids).
      const tick = new Date(job.opts?.prevMillis ?? job.timestamp ?? Date.now());
      const ids = await addNightlyFlow(ctx.redis, ctx.config.queuePrefix, tick);
      ctx.logger.info(
        {
          event: 'backup_nightly_enqueued',
          backup_job_id: ids.backupJobId,
          objects_job_id: ids.objectsJobId,
          prune_job_id: ids.pruneJobId,
        },
        'nightly backups enqueued; prune follows them',
      );
      return ids;
    },
};

const pruneHandler: JobHandler<BackupPruneJob> = {
  processor:
    ({ ctx }) =>
    async (data): Promise<PruneJobResult> => {
      const r = await prune({ ...ctx, backup: ctx }, data.dryRun);
      return {
        dryRun: r.dryRun,
        deleted: r.deleted,
        kept: r.histories.reduce((n, h) => n + h.keep.length, 0),
        unverified: r.histories.filter((h) => h.noVerifiedBackup).map((h) => h.history),
        errors: r.errors,
      };
    },
};

const drill: JobHandler<RestoreDrillJob> = {
  processor:
    (scope) =>
    async (data): Promise<DrillJobResult> => {
      const { ctx } = scope;
      const r = await performRestoreDrill(
        { ...ctx, backups: drillBackupsOf(ctx), alertQueue: scope.queue(alertQueue) },
        data.trigger,
      );
      return { drillId: r.id, backupId: r.backupId, passed: r.passed, durationMs: r.durationMs, error: r.error };
    },
  // Drill evidence is in Postgres: every process reports the newest drill, whoever ran it.
  gauges: (ctx, { database }) => {
    if (database) ctx.metrics.setDrillSource(() => readDrillGauges(ctx.pg));
  },
};

export const upkeepHandlers = { nightly, prune: pruneHandler, drill };
