/**
 * Listing backups and reading one's manifest. A backup is restorable only when its
 * manifest is there, parses and carries a valid signature by a configured key; a
 * folder without one is an incomplete (or tampered) backup, shown as such and never
 * offered for restore.
 */
import { BACKUP_ID, BACKUP_KINDS } from '../contracts/backup.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { BackupContext } from './context.js';
import { manifestKey } from './layout.js';
import { ManifestError, parseManifest, type Manifest } from './manifest.js';
import { getBytes, listBackupIds } from './store.js';

export interface BackupListing {
  id: string;
  status: 'restorable' | 'incomplete' | 'invalid';
  manifest?: Manifest;
  /** Why it is not restorable. */
  problem?: string;
}

/** The manifest of a backup, checked. NotFoundError when the id has no manifest. */
export async function loadManifest(ctx: BackupContext, backupId: string): Promise<Manifest> {
  const id = BACKUP_ID.safeParse(backupId);
  if (!id.success) throw new ValidationError('backup id', [{ path: 'id', message: id.error.issues[0]!.message }]);
  const bytes = await getBytes(ctx.storage, manifestKey(ctx.config.env, backupId));
  if (!bytes) {
    throw new NotFoundError(
      `no backup ${backupId} in ${ctx.storage.backupBucket}/${ctx.config.env}/ (or it never finished: no manifest); see \`bulwark backup list\``,
    );
  }
  return parseManifest(backupId, bytes, ctx.config);
}

/** Every backup of this environment, oldest first, each with its status. */
export async function listBackups(ctx: BackupContext): Promise<BackupListing[]> {
  const out: BackupListing[] = [];
  for (const id of await listBackupIds(ctx.storage, ctx.config.env)) {
    if (!BACKUP_ID.safeParse(id).success) continue;
    const bytes = await getBytes(ctx.storage, manifestKey(ctx.config.env, id));
    if (!bytes) {
      out.push({ id, status: 'incomplete', problem: 'no manifest (unfinished, failed or in progress)' });
      continue;
    }
    try {
      out.push({ id, status: 'restorable', manifest: parseManifest(id, bytes, ctx.config) });
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      out.push({ id, status: 'invalid', problem: err.message });
    }
  }
  return out;
}

/** The newest restorable backup of a kind, if any (restore drills start from it). */
export async function newestBackup(
  ctx: BackupContext,
  kind: Manifest['kind'] = 'database',
): Promise<Manifest | undefined> {
  const all = await listBackups(ctx);
  return all.reverse().find((b) => b.status === 'restorable' && b.manifest?.kind === kind)?.manifest;
}

/**
 * The newest restorable backup of each kind: manifests read newest first, stopping once
 * every kind is found, so a worker's start reads a few manifests, not every one.
 */
export async function newestOfEachKind(ctx: BackupContext): Promise<Map<Manifest['kind'], Manifest>> {
  const found = new Map<Manifest['kind'], Manifest>();
  const ids = (await listBackupIds(ctx.storage, ctx.config.env)).filter((id) => BACKUP_ID.safeParse(id).success);
  for (const id of ids.reverse()) {
    if (found.size === BACKUP_KINDS.length) break;
    const bytes = await getBytes(ctx.storage, manifestKey(ctx.config.env, id));
    if (!bytes) continue;
    try {
      const m = parseManifest(id, bytes, ctx.config);
      if (!found.has(m.kind)) found.set(m.kind, m);
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
    }
  }
  return found;
}
