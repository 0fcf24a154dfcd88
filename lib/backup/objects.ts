/**
 * Object copies in a backup. Every object under a source prefix of the tenant bucket
 * (`tenant/` for an objects backup, `tenant/{id}/` for a tenant backup) is copied
 * server-side to `{env}/{backupId}/objects/{its key}` in the backup bucket and read
 * back for its SHA-256. Keys are listed page by page in key order; every 500 objects
 * their index (NDJSON lines `{key, size, sha256}`) is encrypted as one part of the
 * `objects-index` stream, and a checkpoint (parts so far, the last key) is written: a
 * retry of a failed or killed attempt resumes after that key instead of starting over.
 * The manifest, written last, lists the index parts with their checksums, so every
 * object's SHA-256 is covered by its signature. Memory: 500 keys and their digests.
 *
 * The copies are the objects as the tenant bucket stores them (not age-encrypted:
 * server-side copy keeps the bytes off this machine); the index that names and vouches
 * for them is encrypted and signed (docs/DATA_MANAGEMENT.md § Objects).
 */
import pg from 'pg';
import { z } from 'zod';
import { TENANT_ROOT } from '../storage/keys.js';
import type { BackupContext, OnProgress } from './context.js';
import { copyObject } from './object-copy.js';
import { checkpointKey, objectsPrefix, partKey } from './layout.js';
import { partSchema, type ManifestObjects, type PartRecord } from './manifest.js';
import { writeOnePart } from './parts.js';
import { BackupStoreError, getBytes, listAll, putBytes, guard } from './store.js';
import { timedIterate, mapLimit } from './iterate.js';
import { readServerFacts, type DatabaseFacts } from './snapshot.js';

export const OBJECTS_INDEX_STREAM = 'objects-index';
/** Objects per index part, and so per checkpoint. */
export const OBJECTS_PER_PART = 500;
/** Copies in flight at once (small objects are dominated by round trips). */
export const COPIES_IN_FLIGHT = 4;
/** Longest a listing page may take before the store counts as gone. */
const LIST_PAGE_TIMEOUT_MS = 30_000;

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/);
export const indexEntrySchema = z
  .object({ key: z.string().min(1), size: z.number().int().min(0), sha256: SHA256 })
  .strict();
export type IndexEntry = z.infer<typeof indexEntrySchema>;

const checkpointSchema = z
  .object({
    source: z.string(),
    after: z.string(),
    count: z.number().int().min(0),
    bytes: z.number().int().min(0),
    parts: z.array(partSchema),
  })
  .strict();
type Checkpoint = z.infer<typeof checkpointSchema>;

export interface CopyObjectsOptions {
  backupId: string;
  recipient: string;
  /** The prefix of the tenant bucket to copy: `tenant/` or `tenant/{id}/`. */
  source: string;
  /** Continue from the checkpoint an earlier attempt of this backup left, if any. */
  resume?: boolean;
  /** Objects per index part and checkpoint (default OBJECTS_PER_PART). */
  objectsPerPart?: number | undefined;
  onProgress?: OnProgress;
}

async function readCheckpoint(ctx: BackupContext, o: CopyObjectsOptions): Promise<Checkpoint | undefined> {
  const bytes = await getBytes(ctx.storage, checkpointKey(ctx.config.env, o.backupId));
  if (!bytes) return undefined;
  const parsed = checkpointSchema.safeParse(JSON.parse(bytes.toString('utf8')));
  // A checkpoint of another source (or unreadable) is no place to resume from.
  return parsed.success && parsed.data.source === o.source ? parsed.data : undefined;
}

/** Copy every object under `o.source` into the backup; returns the index parts and totals. */
export async function copyObjects(
  ctx: BackupContext,
  o: CopyObjectsOptions,
): Promise<{ parts: PartRecord[]; objects: ManifestObjects }> {
  const { storage, config, logger } = ctx;
  const env = config.env;
  const dest = objectsPrefix(env, o.backupId);
  let cp: Checkpoint = (o.resume && (await readCheckpoint(ctx, o))) || {
    source: o.source,
    after: '',
    count: 0,
    bytes: 0,
    parts: [],
  };
  if (cp.parts.length)
    logger.info(
      { backup_id: o.backupId, objects: cp.count, after: cp.after },
      'objects backup resumed from its checkpoint',
    );
  let batch: string[] = [];
  const flush = async () => {
    const copied = await mapLimit(batch, COPIES_IN_FLIGHT, async (key) => {
      const digest = await copyObject(
        storage,
        { bucket: storage.bucket, key },
        { bucket: storage.backupBucket, key: dest + key },
      );
      return digest && { key, size: digest.size, sha256: digest.sha256 };
    });
    // An object deleted since it was listed is simply not in the backup.
    const entries = copied.filter((e): e is IndexEntry => e !== undefined);
    const index = cp.parts.length + 1;
    const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    const part = await writeOnePart(storage, Buffer.from(text, 'utf8'), {
      stream: OBJECTS_INDEX_STREAM,
      index,
      key: partKey(env, o.backupId, OBJECTS_INDEX_STREAM, index),
      recipient: o.recipient,
    });
    cp = {
      source: o.source,
      after: batch.at(-1) ?? cp.after,
      count: cp.count + entries.length,
      bytes: cp.bytes + entries.reduce((n, e) => n + e.size, 0),
      parts: [...cp.parts, part],
    };
    await putBytes(storage, checkpointKey(env, o.backupId), Buffer.from(JSON.stringify(cp)), 'application/json');
    o.onProgress?.({ phase: 'copying objects', done: cp.bytes, part: part.key });
    batch = [];
  };
  try {
    const listing = listAll(storage, o.source, storage.bucket, cp.after);
    for await (const item of timedIterate(listing, LIST_PAGE_TIMEOUT_MS, `list ${o.source}`)) {
      if (!item.name || !item.name.startsWith(o.source)) continue;
      batch.push(item.name);
      if (batch.length >= (o.objectsPerPart ?? OBJECTS_PER_PART)) await flush();
    }
  } catch (err) {
    throw err instanceof BackupStoreError ? err : new BackupStoreError(o.source, 'list', err);
  }
  // The last few, or one empty part so that the stream exists even with no objects.
  if (batch.length || cp.parts.length === 0) await flush();
  // The checkpoint has done its work; the manifest (next) is what describes the backup.
  await guard(checkpointKey(env, o.backupId), 'delete', () =>
    storage.client.removeObject(storage.backupBucket, checkpointKey(env, o.backupId)),
  ).catch(() => undefined);
  return {
    parts: cp.parts,
    objects: { count: cp.count, bytes: cp.bytes, prefix: dest, source: `${storage.bucket}/${o.source}` },
  };
}

/**
 * An objects backup: every object under `tenant/`. The manifest records the database's
 * version and migrations too (which schema the objects belong with), read best effort:
 * an objects backup does not need Postgres, so one that is down costs only that record.
 */
export async function backupObjects(
  ctx: BackupContext,
  o: {
    backupId: string;
    databaseUrl: string;
    recipient: string;
    resume?: boolean;
    objectsPerPart?: number | undefined;
    onProgress?: OnProgress;
  },
): Promise<{ parts: PartRecord[]; facts: DatabaseFacts; objects: ManifestObjects }> {
  const copied = await copyObjects(ctx, { ...o, source: TENANT_ROOT });
  let server: Pick<DatabaseFacts, 'postgresVersion' | 'migrations'> = { postgresVersion: 'unknown', migrations: [] };
  const client = new pg.Client({ connectionString: o.databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    server = await readServerFacts(client);
  } catch (err) {
    ctx.logger.warn(
      { backup_id: o.backupId, err },
      'objects backup: the database did not answer; its version is not recorded',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  return { ...copied, facts: { ...server, tables: {}, auditChainHeads: [] } };
}
