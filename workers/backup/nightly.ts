/**
 * The nightly backup and the prune after it. BACKUP_CRON schedules a small `nightly` job
 * on `backup-upkeep`; it adds one BullMQ flow: a database backup and an objects backup
 * (queue `backup`, one after the other: the queue runs one job at a time) as the
 * children of a `prune` job, so the prune runs only once both have completed, and
 * never after a backup that failed for good (`failParentOnFailure`: the prune fails with
 * it, and BackupFailing / the backup:failed alert say why). The flow lives in Redis, so
 * a process that dies between the backup and the prune loses neither.
 */
import { FlowProducer } from 'bullmq';
import type { RedisClient } from '../../lib/clients/redis.js';
import { BACKUP_QUEUE, backupJob, backupPolicy, type BackupJob } from '../../lib/contracts/backup.js';
import {
  BACKUP_PRUNE_JOB,
  BACKUP_UPKEEP_QUEUE,
  backupUpkeepPolicy,
  type BackupPruneJob,
} from '../../lib/contracts/drill.js';

export const NIGHTLY_BACKUP_JOB = 'nightly';

/**
 * Add tonight's backup-then-prune flow. `tick` (the scheduled time) makes the job ids,
 * so a retried `nightly` job adds the same flow again, which BullMQ ignores.
 */
export async function addNightlyFlow(
  connection: RedisClient,
  prefix: string,
  tick: Date,
): Promise<{ backupJobId: string; objectsJobId: string; pruneJobId: string }> {
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
        child({ v: 1, kind: 'database' }, `nightly-${stamp}`),
        child({ v: 1, kind: 'objects' }, `nightly-objects-${stamp}`),
      ],
    });
    const [database, objects] = tree.children!.map((c) => String(c.job.id));
    return { backupJobId: database!, objectsJobId: objects!, pruneJobId: String(tree.job.id) };
  } finally {
    await flows.close();
  }
}

// Named as the catalogue names the backup job: a worker fails a job of any other name as unknown.
const child = (data: BackupJob, jobId: string) => ({
  name: backupJob.name,
  queueName: BACKUP_QUEUE,
  data,
  opts: {
    jobId,
    attempts: backupPolicy.attempts,
    backoff: backupPolicy.backoff,
    removeOnComplete: backupPolicy.removeOnComplete,
    removeOnFail: backupPolicy.removeOnFail,
    failParentOnFailure: true,
  },
});
