/**
 * The backup queue's worker: concurrency 1 (contract policy), and a global concurrency
 * of 1 set on the queue so that two worker processes never run two backups at once
 * (database backups also take a Redis lock that the CLI shares: lib/backup/lock.ts).
 * A job that can never succeed (bad payload, BACKUP_KEYS or BACKUP_SIGNING_KEY not
 * configured) fails at once; any other failure (store or database unreachable, lock
 * busy) retries with the policy's backoff.
 */
import { Queue, UnrecoverableError, type Worker } from 'bullmq';
import { BACKUP_QUEUE, backupPolicy, type BackupJobResult } from '../../lib/contracts/backup.js';
import type { AppContext } from '../../lib/context.js';
import { ConfigError } from '../../lib/errors.js';
import { createQueueWorker } from '../runtime/queue-worker.js';
import { processBackup } from './processor.js';

export function createBackupWorker(ctx: AppContext): Worker<unknown, BackupJobResult> {
  const queue = new Queue(BACKUP_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  queue.on('error', () => undefined);
  // Redis down at start: the worker still starts; the setting is tried again on the next start.
  queue
    .setGlobalConcurrency(backupPolicy.concurrency)
    .catch((err: unknown) => ctx.logger.warn({ queue: BACKUP_QUEUE, err }, 'could not set the backup queue global concurrency'))
    .finally(() => void queue.close().catch(() => undefined));
  return createQueueWorker<unknown, BackupJobResult>(ctx, {
    queue: BACKUP_QUEUE,
    policy: backupPolicy,
    processor: async (job) => {
      try {
        return await processBackup(job.data, ctx, job);
      } catch (err) {
        if (err instanceof ConfigError) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
  });
}
