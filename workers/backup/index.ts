/**
 * The backup worker's side of the registry (workers/registry.ts): one backup per job
 * (processor.ts). The queue runs one job at a time in the whole deployment: the
 * policy's concurrency 1 per process, and a global concurrency of 1 set on the queue
 * when a process builds the processor (database backups also take a Redis lock that
 * `bulwark backup create` shares: lib/backup/lock.ts). A job that can never succeed
 * (BACKUP_KEYS or BACKUP_SIGNING_KEY not configured, a tenant that does not exist) fails at once; any other failure
 * (store or database unreachable, lock busy) retries with the policy's backoff. At start
 * the backup gauges are read from the store (gauges.ts), so a restart does not empty them.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { BACKUP_KINDS, backupPolicy, backupQueue, type BackupJob } from '../../lib/contracts/backup.js';
import { ConfigError, NotFoundError } from '../../lib/errors.js';
import { NotImplementedError } from '../../lib/backup/errors.js';
import type { JobHandler, WorkerScope } from '../registration.js';
import { seedBackupGauges } from './gauges.js';
import { processBackup } from './processor.js';

/** Once per process: the gauges from the store's newest backups (gauges.ts). */
const gaugeSeeding = (scope: WorkerScope) => seedBackupGauges(scope.ctx);

export const backupHandlers = {
  backup: {
    processor: (scope) => {
      scope
        .queue(backupQueue)
        .setGlobalConcurrency(backupPolicy.concurrency)
        // Redis away at start: the per-process concurrency and the lock still hold.
        .catch((err: unknown) =>
          scope.ctx.logger.warn({ queue: backupQueue.name, err }, 'could not set the backup queue global concurrency'),
        );
      const { metrics } = scope.ctx;
      for (const kind of BACKUP_KINDS) metrics.backupFailures.inc({ kind }, 0);
      const gauges = scope.shared(gaugeSeeding);
      return async (data, job: Job) => {
        try {
          const result = await processBackup(data, scope.ctx, job);
          gauges.setByJob.add(result.kind);
          metrics.backupLastSuccess.set({ kind: result.kind }, Date.now() / 1000);
          metrics.backupBytes.set({ kind: result.kind }, result.bytes);
          metrics.backupDuration.set({ kind: result.kind }, result.seconds);
          return result;
        } catch (err) {
          metrics.backupFailures.inc({ kind: data.kind });
          // Keys not configured, or a tenant backup of a tenant that does not exist: no retry can help.
          if (err instanceof ConfigError || err instanceof NotImplementedError || err instanceof NotFoundError)
            throw new UnrecoverableError(err.message);
          throw err;
        }
      };
    },
    drain: (scope) => {
      scope.shared(gaugeSeeding).stop();
      return Promise.resolve();
    },
  } satisfies JobHandler<BackupJob>,
};
