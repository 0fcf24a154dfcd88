/**
 * The backup prune (queue `backup-upkeep`, job `prune`; after each nightly backup, and
 * `bulwark backup prune [--dry-run]`): retention (BACKUP_KEEP_*) applied under the
 * upkeep lock, so it never runs beside a restore drill. See lib/backup/prune.ts.
 */
import type pg from 'pg';
import type { BackupContext } from '../../lib/backup/context.js';
import { drilledBackupIds } from '../../lib/backup/drill-record.js';
import { pruneBackups, type PruneReport } from '../../lib/backup/prune.js';
import { pruneBackupsOf } from '../../lib/backup/upkeep-adapters.js';
import { withUpkeepLock } from '../../lib/backup/upkeep-lock.js';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import type { Clock } from '../../lib/time.js';

export interface PruneRunDeps {
  config: Pick<Config, 'backupKeep'>;
  prisma: PrismaClient;
  pg: pg.Pool;
  clock: Clock;
  logger: Logger;
  backup: BackupContext;
}

/** @throws ConflictError when a drill or another prune holds the upkeep lock. */
export function prune(deps: PruneRunDeps, dryRun: boolean): Promise<PruneReport> {
  return withUpkeepLock(deps.pg, 'prune', async () =>
    pruneBackups({
      backups: pruneBackupsOf(deps.backup),
      drilled: await drilledBackupIds(deps.prisma),
      policy: deps.config.backupKeep,
      dryRun,
      clock: deps.clock,
      logger: deps.logger.child({ component: 'backup-prune' }),
    }),
  );
}
