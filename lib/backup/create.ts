/**
 * createBackup: one backup of one kind, start to signed manifest. The id is the UTC
 * second it starts (the next free second if that one is taken). Parts go up first;
 * the manifest, signed, goes last: until it exists the backup is not listed as
 * restorable. A backup that fails removes what it uploaded (best effort: when the
 * store is down that fails too, and the next attempt's cleanup or retention finds a
 * prefix with no manifest, which nothing ever treats as a backup).
 */
import { createHash } from 'node:crypto';
import type { BackupKind } from '../contracts/backup.js';
import type { BackupContext, OnProgress } from './context.js';
import { dumpDatabase } from './database.js';
import { bulwarkVersion, publicConfig } from './describe.js';
import { backupKeys, signingKeys } from './keys.js';
import { backupIdAt, backupIdTime, backupPrefix, manifestKey, startedKey } from './layout.js';
import { acquireLock } from './lock.js';
import { MANIFEST_FORMAT, signManifest, type Manifest, type ManifestBody, type PartRecord } from './manifest.js';
import type { DatabaseFacts } from './snapshot.js';
import { databaseName } from './pg-tools.js';
import { listAll, putBytes, removePrefix } from './store.js';
import { backupObjects } from './objects.js';
import { backupTenant } from './tenant.js';

export interface CreateBackupOptions {
  kind: BackupKind;
  /** Required for kind `tenant`. */
  tenantId?: string;
  /** The database to back up. Default: config.directDatabaseUrl (DIRECT_DATABASE_URL or DATABASE_URL). */
  databaseUrl?: string;
  /** Recorded in the manifest (e.g. "rollback point before restoring …"). */
  reason?: string;
  onProgress?: OnProgress;
  /** Told the id as soon as it is chosen (a job records it to clean up after a crash). */
  onId?: (backupId: string) => void | Promise<void>;
  /**
   * Objects backups: carry on with this unfinished backup (same id) from the checkpoint
   * its earlier attempt left, instead of starting a new one (the job's retry passes it).
   */
  resumeId?: string;
  /**
   * An id the new backup must come after (default none): the job's retry passes the id
   * of the attempt it just removed, so a retry within the same second never takes over
   * that id and the logs of the two attempts stay apart.
   */
  idAfter?: string;
  /** Objects backups: on failure, keep what was copied for a retry to resume (default: remove it). */
  keepOnFailure?: boolean;
  /** Objects and tenant backups: objects per index part and checkpoint (default OBJECTS_PER_PART, 500). */
  objectsPerPart?: number;
}

/** The lock key of database backups of one database (server and name, not credentials). */
export function databaseLockKey(ctx: BackupContext, databaseUrl: string): string {
  const u = new URL(databaseUrl);
  const which = createHash('sha256')
    .update(`${u.hostname}:${u.port}/${databaseName(databaseUrl)}`)
    .digest('hex')
    .slice(0, 16);
  return `${ctx.config.queuePrefix}:backup:lock:database:${which}`;
}

/**
 * The id for a backup starting now: this UTC second (or the one after `after`, if
 * later), or the next with nothing stored under it.
 */
async function allocateId(ctx: BackupContext, now: Date, after?: string): Promise<string> {
  const first = after ? Math.max(now.getTime(), backupIdTime(after).getTime() + 1000) : now.getTime();
  for (let t = first; ; t += 1000) {
    const id = backupIdAt(new Date(t));
    let taken = false;
    for await (const _ of listAll(ctx.storage, backupPrefix(ctx.config.env, id))) {
      taken = true;
      break;
    }
    if (!taken) return id;
  }
}

export async function createBackup(ctx: BackupContext, o: CreateBackupOptions): Promise<Manifest> {
  // Keys first: a missing key fails before anything is locked or uploaded.
  const keys = await backupKeys(ctx.config);
  const signing = signingKeys(ctx.config);
  if (o.kind === 'tenant' && !o.tenantId) throw new Error('a tenant backup needs a tenant id');
  // pg_dump and its exported snapshot need a session of their own: never through a pooler.
  const databaseUrl = o.databaseUrl ?? ctx.config.directDatabaseUrl;
  const lock =
    o.kind === 'database' ? await acquireLock(ctx.redis, databaseLockKey(ctx, databaseUrl), 'database') : undefined;
  const env = ctx.config.env;
  let backupId: string | undefined;
  try {
    const startedAt = new Date();
    const resume = o.kind === 'objects' && o.resumeId !== undefined;
    backupId = resume ? o.resumeId! : await allocateId(ctx, startedAt, o.idAfter);
    await o.onId?.(backupId);
    // A marker beside where the manifest will be: the backup is visible (as incomplete)
    // from its first second, on stores whose delimiter listing only sees one level too.
    await putBytes(
      ctx.storage,
      startedKey(env, backupId),
      Buffer.from(JSON.stringify({ id: backupId, kind: o.kind, startedAt: startedAt.toISOString(), pid: process.pid })),
      'application/json',
    );
    ctx.logger.info({ backup_id: backupId, kind: o.kind, tenant_id: o.tenantId }, 'backup started');
    const common = {
      backupId,
      databaseUrl,
      recipient: keys.recipients[0]!,
      onProgress: o.onProgress,
      objectsPerPart: o.objectsPerPart,
    };
    const content: { parts: PartRecord[]; facts: DatabaseFacts; objects?: ManifestBody['objects'] } =
      o.kind === 'database'
        ? await dumpDatabase(ctx, common)
        : o.kind === 'objects'
          ? await backupObjects(ctx, { ...common, resume })
          : await backupTenant(ctx, { ...common, tenantId: o.tenantId! });
    if (lock?.lost()) throw new Error('the backup lock was lost (Redis unreachable for too long); retrying');
    const body: ManifestBody = {
      format: MANIFEST_FORMAT,
      id: backupId,
      kind: o.kind,
      tenantId: o.tenantId,
      environment: env,
      bulwarkVersion: bulwarkVersion(),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      reason: o.reason,
      postgres: { version: content.facts.postgresVersion, database: databaseName(databaseUrl) },
      migrations: content.facts.migrations,
      config: publicConfig(ctx.config),
      encryption: { format: 'age', recipient: keys.recipients[0]! },
      parts: content.parts,
      tables: content.facts.tables,
      auditChainHeads: content.facts.auditChainHeads,
      objects: content.objects,
    };
    const manifest = signManifest(body, signing);
    o.onProgress?.({ phase: 'manifest', done: content.parts.reduce((n, p) => n + p.size, 0) });
    await putBytes(
      ctx.storage,
      manifestKey(env, backupId),
      Buffer.from(JSON.stringify(manifest, null, 2)),
      'application/json',
    );
    ctx.logger.info({ backup_id: backupId, kind: o.kind, parts: body.parts.length }, 'backup complete');
    return manifest;
  } catch (err) {
    if (backupId && !(o.kind === 'objects' && o.keepOnFailure)) await abortBackup(ctx, backupId);
    else if (backupId)
      ctx.logger.warn({ backup_id: backupId }, 'objects backup failed; what it copied is kept for the retry to resume');
    throw err;
  } finally {
    await lock?.release();
  }
}

/**
 * Remove an unfinished backup's objects. Never one with a manifest: that backup is
 * complete (a retry that finds its predecessor finished must not destroy it).
 */
export async function abortBackup(ctx: BackupContext, backupId: string): Promise<number> {
  const env = ctx.config.env;
  try {
    for await (const item of listAll(ctx.storage, manifestKey(env, backupId)))
      if (item.name === manifestKey(env, backupId)) return 0;
    const n = await removePrefix(ctx.storage, backupPrefix(env, backupId));
    if (n > 0) ctx.logger.warn({ backup_id: backupId, objects: n }, 'incomplete backup removed');
    return n;
  } catch (err) {
    ctx.logger.warn(
      { backup_id: backupId, err },
      'could not remove an incomplete backup (the store is unreachable?); it has no manifest, so it is never listed',
    );
    return 0;
  }
}
