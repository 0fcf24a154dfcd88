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

/** One backup's listing: its manifest read and checked, or why it is not restorable. */
async function readListing(ctx: BackupContext, id: string): Promise<BackupListing> {
  const bytes = await getBytes(ctx.storage, manifestKey(ctx.config.env, id));
  if (!bytes) return { id, status: 'incomplete', problem: 'no manifest (unfinished, failed or in progress)' };
  try {
    return { id, status: 'restorable', manifest: parseManifest(id, bytes, ctx.config) };
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    return { id, status: 'invalid', problem: err.message };
  }
}

/** The ids that are backup ids, oldest first. */
async function backupIds(ctx: BackupContext): Promise<string[]> {
  return (await listBackupIds(ctx.storage, ctx.config.env)).filter((id) => BACKUP_ID.safeParse(id).success);
}

/** Every backup of this environment, oldest first, each with its status. */
export async function listBackups(ctx: BackupContext): Promise<BackupListing[]> {
  const out: BackupListing[] = [];
  for (const id of await backupIds(ctx)) out.push(await readListing(ctx, id));
  return out;
}

/** Restorable manifests, newest first, each read only when the caller asks for the next. */
async function* restorableNewestFirst(ctx: BackupContext): AsyncGenerator<Manifest> {
  for (const id of (await backupIds(ctx)).reverse()) {
    const listing = await readListing(ctx, id);
    if (listing.manifest) yield listing.manifest;
  }
}

/** The newest restorable backup of a kind, if any (restore drills start from it). */
export async function newestBackup(
  ctx: BackupContext,
  kind: Manifest['kind'] = 'database',
): Promise<Manifest | undefined> {
  for await (const m of restorableNewestFirst(ctx)) if (m.kind === kind) return m;
  return undefined;
}

/**
 * The newest restorable backup of each kind, reading manifests newest first and
 * stopping once every kind is found, so a worker's start reads a few, not every one.
 */
export async function newestOfEachKind(ctx: BackupContext): Promise<Map<Manifest['kind'], Manifest>> {
  const found = new Map<Manifest['kind'], Manifest>();
  for await (const m of restorableNewestFirst(ctx)) {
    if (!found.has(m.kind)) found.set(m.kind, m);
    if (found.size === BACKUP_KINDS.length) break;
  }
  return found;
}
