/**
 * The backup gauges when a worker starts, from the store: each kind's newest restorable
 * backup (its manifest's finishedAt, bytes and duration). Before, the gauges had no
 * series until this process ran a backup itself, so once every process had restarted
 * BackupStale could only count process uptime: 26 h during which a missing backup went
 * unseen. The store away at start: tried again every minute, up to ten times. A kind
 * that a job of this process has set meanwhile is left as the job set it.
 */
import type { BackupContext } from '../../lib/backup/context.js';
import { newestOfEachKind } from '../../lib/backup/list.js';
import type { BackupKind } from '../../lib/contracts/backup.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';
import { resultOf } from './processor.js';

const RETRY_MS = 60_000;
const ATTEMPTS = 10;

export interface BackupGaugeSeeding {
  /** Kinds a job of this process has set: not overwritten by the store's older view. */
  readonly setByJob: Set<BackupKind>;
  stop(): void;
}

export function seedBackupGauges(
  ctx: BackupContext & {
    metrics: Pick<Metrics, 'backupLastSuccess' | 'backupBytes' | 'backupDuration'>;
    logger: Logger;
  },
): BackupGaugeSeeding {
  const setByJob = new Set<BackupKind>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (n: number): Promise<void> => {
    // Backups not configured here (no signing key): no manifest could be read.
    if (!ctx.config.backupSigningKeys) return;
    try {
      for (const [kind, manifest] of await newestOfEachKind(ctx)) {
        if (stopped || setByJob.has(kind)) continue;
        const r = resultOf(manifest);
        ctx.metrics.backupLastSuccess.set({ kind }, Date.parse(manifest.finishedAt) / 1000);
        ctx.metrics.backupBytes.set({ kind }, r.bytes);
        ctx.metrics.backupDuration.set({ kind }, r.seconds);
      }
    } catch (err) {
      if (stopped) return;
      const last = n >= ATTEMPTS;
      ctx.logger.warn(
        { event: 'backup_gauges_unread', err, attempt: n, retry: !last },
        'could not read the newest backups from the store for the backup gauges',
      );
      if (!last) timer = setTimeout(() => void attempt(n + 1), RETRY_MS).unref();
    }
  };
  void attempt(1);
  return {
    setByJob,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
