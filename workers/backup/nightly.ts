/**
 * The nightly backup and the prune after it. BACKUP_CRON schedules a small `nightly` job
 * on `backup-upkeep`; it adds one BullMQ flow: a database backup (queue `backup`) as the
 * child of a `prune` job, so the prune runs only once that backup has completed, and
 * never after a backup that failed for good (`failParentOnFailure`: the prune fails with
 * it, and BackupFailing / the backup:failed alert say why). The flow lives in Redis, so
 * a process that dies between the backup and the prune loses neither.
 */
import { FlowProducer } from 'bullmq';
import type { RedisClient } from '../../lib/clients/redis.js';
import { BACKUP_QUEUE, backupPolicy, type BackupJob } from '../../lib/contracts/backup.js';
import {
  BACKUP_PRUNE_JOB,
  BACKUP_UPKEEP_QUEUE,
  backupUpkeepPolicy,
  type BackupPruneJob,
} from '../../lib/contracts/drill.js';

export const NIGHTLY_BACKUP_JOB = 'nightly';
/** The job name of the nightly database backup on the `backup` queue. */
export const NIGHTLY_DATABASE_JOB = 'database';

/**
 * Add tonight's backup-then-prune flow. `tick` (the scheduled time) makes the job ids,
 * so a retried `nightly` job adds the same flow again, which BullMQ ignores.
 */
export async function addNightlyFlow(
  connection: RedisClient,
  prefix: string,
  tick: Date,
): Promise<{ backupJobId: string; pruneJobId: string }> {
  const stamp = tick.toISOString().replace(/[-:.]/g, '');
  const flows = new FlowProducer({ connection, prefix });
  try {
    const tree = await flows.add({
      name: BACKUP_PRUNE_JOB,
      queueName: BACKUP_UPKEEP_QUEUE,
      data: { v: 1, dryRun: false } satisfies BackupPruneJob,
      opts: {
        jobId: `prune-after-${stamp}`,
        attempts: backupUpkeepPolicy.attempts,
        removeOnComplete: backupUpkeepPolicy.removeOnComplete,
        removeOnFail: backupUpkeepPolicy.removeOnFail,
      },
      children: [
        {
          name: NIGHTLY_DATABASE_JOB,
          queueName: BACKUP_QUEUE,
          data: { v: 1, kind: 'database' } satisfies BackupJob,
          opts: {
            jobId: `nightly-${stamp}`,
            attempts: backupPolicy.attempts,
            backoff: backupPolicy.backoff,
            removeOnComplete: backupPolicy.removeOnComplete,
            removeOnFail: backupPolicy.removeOnFail,
            failParentOnFailure: true,
          },
        },
      ],
    });
    return { backupJobId: String(tree.children![0]!.job.id), pruneJobId: String(tree.job.id) };
  } finally {
    await flows.close();
  }
}
