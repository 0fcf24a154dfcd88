/**
 * Pruning backups by the retention policy (lib/backup/retention.ts), nightly after the
 * backup and by `bulwark backup prune [--dry-run]`.
 *
 * - Each kind is its own history (database, objects, and each tenant's tenant backups):
 *   keeping 7 daily database backups says nothing about objects backups.
 * - "Verified" means a restore drill passed on it (restore_drills), or the prune itself
 *   just verified it: when a history has no backup known to restore, its newest backups
 *   are verified (newest first, at most VERIFY_TRIES) before anything of it is deleted,
 *   and when none verifies nothing of it is deleted.
 * - A backup is deleted manifest FIRST, then its parts: a prune that stops half way
 *   leaves a folder without a manifest, which is never listed as restorable, rather than
 *   a manifest whose parts are gone. Such leftovers (and backups that never finished) are
 *   removed once older than INCOMPLETE_GRACE_MS and older than the newest restorable
 *   backup, so a backup still being written is never touched.
 * - A backup whose manifest is invalid (bad signature, unreadable) is never deleted
 *   automatically: it may be evidence of tampering. The report lists it.
 */
import type { Logger } from '../logger.js';
import type { Clock } from '../time.js';
import { backupIdTime, planRetention, type KeepReason, type RetentionPolicy } from './retention.js';

/** Newest backups of a history verified before giving up on pruning it. */
export const VERIFY_TRIES = 3;
/** How old a backup without a manifest must be before prune removes it: 48 h. */
export const INCOMPLETE_GRACE_MS = 48 * 3_600_000;

export interface PruneListing {
  id: string;
  status: 'restorable' | 'incomplete' | 'invalid';
  /** From the manifest (restorable backups): database, objects or tenant. */
  kind?: string;
  tenantId?: string;
}

/** The store operations a prune needs: wired to lib/backup by the caller. */
export interface PruneBackups {
  list(): Promise<readonly PruneListing[]>;
  /** Check every part of a backup; throws naming what is wrong. */
  verify(id: string): Promise<unknown>;
  removeManifest(id: string): Promise<void>;
  /** Delete every remaining object of the backup; returns how many. */
  removeParts(id: string): Promise<number>;
}

export interface PruneHistory {
  /** `database`, `objects` or `tenant:<id>`. */
  history: string;
  keep: ReadonlyArray<{ id: string; reasons: KeepReason[] }>;
  prune: readonly string[];
  /** Nothing of this history is pruned: no backup of it could be shown to restore. */
  noVerifiedBackup: boolean;
  /** Backups the prune verified itself, and those that failed verification (id: why). */
  verifiedNow: string[];
  failedVerify: string[];
}

export interface PruneReport {
  dryRun: boolean;
  histories: PruneHistory[];
  /** Backups without a manifest past the grace period (removed unless dryRun). */
  incomplete: string[];
  /** Backups with an invalid manifest: kept, for a person to look at. */
  invalid: string[];
  /** What was deleted (empty on a dry run). */
  deleted: string[];
  /** Deletions that failed (id: why); the rest went on. */
  errors: string[];
}

export interface PruneDeps {
  backups: PruneBackups;
  /** Backups a restore drill passed on. */
  drilled: ReadonlySet<string>;
  policy: RetentionPolicy;
  dryRun: boolean;
  clock: Clock;
  logger: Logger;
}

const historyOf = (b: PruneListing) =>
  b.kind === 'tenant' ? `tenant:${b.tenantId ?? 'unknown'}` : (b.kind ?? 'unknown');
const why = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

export async function pruneBackups(deps: PruneDeps): Promise<PruneReport> {
  const listed = await deps.backups.list();
  const restorable = listed.filter((b) => b.status === 'restorable');
  const newestRestorable = restorable
    .map((b) => b.id)
    .sort()
    .at(-1);
  const now = deps.clock().getTime();
  const incomplete = listed
    .filter((b) => b.status === 'incomplete' && newestRestorable !== undefined && b.id < newestRestorable)
    .filter((b) => now - (backupIdTime(b.id)?.getTime() ?? now) > INCOMPLETE_GRACE_MS)
    .map((b) => b.id);
  const invalid = listed.filter((b) => b.status === 'invalid').map((b) => b.id);

  const groups = new Map<string, string[]>();
  for (const b of restorable) groups.set(historyOf(b), [...(groups.get(historyOf(b)) ?? []), b.id]);
  const histories: PruneHistory[] = [];
  for (const [history, ids] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const verified = new Set(ids.filter((id) => deps.drilled.has(id)));
    const verifiedNow: string[] = [];
    const failedVerify: string[] = [];
    let plan = planRetention(
      ids.map((id) => ({ id, verified: verified.has(id) })),
      deps.policy,
    );
    // Only worth a verify when something would go: check the newest few until one passes.
    if (plan.noVerifiedBackup && ids.length > 1) {
      for (const id of [...ids].sort().reverse().slice(0, VERIFY_TRIES)) {
        try {
          await deps.backups.verify(id);
          verifiedNow.push(id);
          break;
        } catch (err) {
          failedVerify.push(`${id}: ${why(err)}`);
        }
      }
      plan = planRetention(
        ids.map((id) => ({ id, verified: verified.has(id) || verifiedNow.includes(id) })),
        deps.policy,
      );
    }
    histories.push({
      history,
      keep: plan.keep,
      prune: plan.prune,
      noVerifiedBackup: plan.noVerifiedBackup,
      verifiedNow,
      failedVerify,
    });
  }

  const deleted: string[] = [];
  const errors: string[] = [];
  if (!deps.dryRun) {
    for (const id of histories.flatMap((h) => h.prune)) {
      try {
        await deps.backups.removeManifest(id); // first: from here on it is not restorable
        await deps.backups.removeParts(id);
        deleted.push(id);
      } catch (err) {
        errors.push(`${id}: ${why(err)}`);
      }
    }
    for (const id of incomplete) {
      try {
        await deps.backups.removeParts(id);
        deleted.push(id);
      } catch (err) {
        errors.push(`${id}: ${why(err)}`);
      }
    }
  }
  const report: PruneReport = { dryRun: deps.dryRun, histories, incomplete, invalid, deleted, errors };
  deps.logger[errors.length || histories.some((h) => h.noVerifiedBackup) ? 'warn' : 'info'](
    {
      event: 'backup_pruned',
      dry_run: deps.dryRun,
      kept: histories.reduce((n, h) => n + h.keep.length, 0),
      pruned: deps.dryRun ? histories.flatMap((h) => h.prune) : deleted,
      incomplete,
      invalid,
      unverified_histories: histories.filter((h) => h.noVerifiedBackup).map((h) => h.history),
      errors,
    },
    deps.dryRun ? 'backup prune (dry run): nothing deleted' : 'backups pruned',
  );
  return report;
}
