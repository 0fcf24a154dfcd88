/**
 * The backup library (list, verify, restore, the store) as the restore drill and the
 * prune see it. Kept apart so drill.ts and prune.ts say what they need in a few
 * functions, and this file alone knows the layout and restore's report.
 */
import type { BackupContext } from './context.js';
import type { DrillBackups, DrillCheck } from './drill.js';
import { manifestKey, backupPrefix } from './layout.js';
import { listBackups } from './list.js';
import type { PruneBackups } from './prune.js';
import { restoreBackup, RestoreCheckError } from './restore.js';
import { BackupStoreError, removePrefix } from './store.js';
import { verifyBackup } from './verify.js';

/** restore's check lines (`rows: 12 tables match …`) as drill checks (`restore:rows`). */
export function restoreChecks(lines: readonly string[], ok: boolean): DrillCheck[] {
  return lines.map((line) => {
    // "rows: 12 tables match …" → restore:rows; a line without a "name:" is named by its first two words.
    const m = /^([a-z][a-z _-]{0,40}?):\s*(.*)$/s.exec(line);
    const name = m ? m[1]! : line.split(/\s+/).slice(0, 2).join(' ');
    return { name: `restore:${name.toLowerCase().replace(/[^a-z0-9_]+/g, '-')}`, ok, detail: m ? m[2]! : line };
  });
}

/** An error whose restore checks failed, carrying them for the drill's evidence. */
export class DrillRestoreError extends Error {
  constructor(
    message: string,
    readonly checks: DrillCheck[],
  ) {
    super(message);
    this.name = 'DrillRestoreError';
  }
}

export function drillBackupsOf(ctx: BackupContext): DrillBackups {
  return {
    async list() {
      return (await listBackups(ctx))
        .filter((b) => b.status === 'restorable' && b.manifest?.kind === 'database')
        .map((b) => ({ id: b.id }));
    },
    async restore(id, intoUrl) {
      try {
        // The scratch database is the drill's own, made for this run: in live too, the
        // confirmation restore asks for is given (it guards a database someone uses).
        const result = await restoreBackup(ctx, id, { into: intoUrl, confirm: new URL(intoUrl).pathname.slice(1) });
        return { checks: restoreChecks(result.checks, true) };
      } catch (err) {
        if (err instanceof RestoreCheckError)
          throw new DrillRestoreError(
            `restore's checks failed: ${err.failed.join('; ')}`,
            restoreChecks(err.failed, false),
          );
        throw err;
      }
    },
  };
}

export function pruneBackupsOf(ctx: BackupContext): PruneBackups {
  const { storage } = ctx;
  const env = ctx.config.env;
  return {
    async list() {
      return (await listBackups(ctx)).map((b) => ({
        id: b.id,
        status: b.status,
        kind: b.manifest?.kind,
        tenantId: b.manifest?.tenantId,
      }));
    },
    verify: (id) => verifyBackup(ctx, id),
    async removeManifest(id) {
      const key = manifestKey(env, id);
      try {
        await storage.client.removeObject(storage.backupBucket, key);
      } catch (err) {
        throw new BackupStoreError(key, 'delete', err);
      }
    },
    removeParts: (id) => removePrefix(storage, backupPrefix(env, id)),
  };
}
