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
import { backupJob, type BackupJob } from '../../lib/contracts/backup.js';
import { backupPruneJob } from '../../lib/contracts/drill.js';
import { flowJobOf } from '../../lib/contracts/enqueue.js';

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
    // Names, queues and options from the definitions (the prune's one attempt makes its backoff moot).
    const tree = await flows.add(
      flowJobOf(backupPruneJob, { v: 1, dryRun: false }, { jobId: `prune-after-${stamp}` }, [
        child({ v: 1, kind: 'database' }, `nightly-${stamp}`),
        child({ v: 1, kind: 'objects' }, `nightly-objects-${stamp}`),
      ]),
    );
    const [database, objects] = tree.children!.map((c) => String(c.job.id));
    return { backupJobId: database!, objectsJobId: objects!, pruneJobId: String(tree.job.id) };
  } finally {
    await flows.close();
  }
}

/** A backup of tonight's flow: failing for good, it fails the prune above it. */
const child = (data: BackupJob, jobId: string) => flowJobOf(backupJob, data, { jobId, failParentOnFailure: true });
