/**
 * The few object-store calls backups make, each answering with a BackupStoreError
 * that names the object when the store fails, so "store unreachable" reads as such.
 * Parts are single PUTs of at most BACKUP_PART_SIZE_MB (64 MiB): they work on MinIO,
 * S3 and the s3rver stand-in alike, which lacks ListMultipartUploads (a streamed
 * putObject needs it).
 */
import { createHash } from 'node:crypto';
import type { BucketItem } from 'minio';
import { storeErrorCode } from '../clients/storage.js';
import { withTimeout } from '../time.js';
import type { BackupStore } from './context.js';

/** Longest one part's upload or download may take before the store counts as gone (a 64 MiB part at 1 MB/s). */
export const PART_CALL_TIMEOUT_MS = 120_000;

/** The store failed: names the object and the store's error code (the client's own message can echo request details). */
export class BackupStoreError extends Error {
  readonly code: string;
  constructor(
    readonly objectKey: string,
    action: string,
    cause: unknown,
  ) {
    const code = storeErrorCode(cause);
    super(`object store: could not ${action} ${objectKey} (${code})`);
    this.name = 'BackupStoreError';
    this.code = code;
  }
}

/**
 * Run a store call again once when its connection was reset: a kept-alive socket the
 * server closed while idle (s3rver closes them after 5 s) fails the next request sent on
 * it with ECONNRESET before the server saw it. Every call made here is idempotent (a
 * PUT of the same bytes, a GET, a copy, a delete).
 */
export async function onceMore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw err;
    return fn();
  }
}

export async function guard<T>(key: string, action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await onceMore(() => withTimeout(fn(), PART_CALL_TIMEOUT_MS, `${action} ${key}`));
  } catch (err) {
    throw new BackupStoreError(key, action, err);
  }
}

/**
 * One PUT of `body`, sent as it is. (minio's putObject turns a Buffer into a stream and
 * reads it back into a new Buffer before sending: a 16 MiB copy per part, garbage the
 * GC found late, which made the backup's resident memory grow with the database.)
 * The store refuses a body damaged on the way: over http the request is signed with the
 * body's SHA-256 (the client hashes it); over https it is not, so Content-MD5 is sent.
 */
export const putBytes = (s: BackupStore, key: string, body: Buffer, contentType = 'application/octet-stream') =>
  guard(key, 'upload', async () => {
    const headers: Record<string, string> = { 'Content-Type': contentType };
    if (!s.client.enableSHA256) headers['Content-MD5'] = createHash('md5').update(body).digest('base64');
    await s.client.makeRequestAsyncOmit({ method: 'PUT', bucketName: s.backupBucket, objectName: key, headers }, body);
  });

/** The whole object, or undefined when there is none (NoSuchKey). */
export async function getBytes(s: BackupStore, key: string, bucket = s.backupBucket): Promise<Buffer | undefined> {
  try {
    return await onceMore(() =>
      withTimeout(
        (async () => {
          const stream = await s.client.getObject(bucket, key);
          const chunks: Buffer[] = [];
          for await (const c of stream) chunks.push(c as Buffer);
          return Buffer.concat(chunks);
        })(),
        PART_CALL_TIMEOUT_MS,
        `download ${key}`,
      ),
    );
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'NoSuchKey' || code === 'NotFound') return undefined;
    throw new BackupStoreError(key, 'download', err);
  }
}

/** Every object under a prefix (the client pages through the listing). */
export function listAll(
  s: BackupStore,
  prefix: string,
  bucket = s.backupBucket,
  startAfter = '',
): AsyncIterable<BucketItem> {
  return s.client.listObjectsV2(bucket, prefix, true, startAfter) as unknown as AsyncIterable<BucketItem>;
}

/** The ids (first-level folders) under `{env}/`. */
export async function listBackupIds(s: BackupStore, env: string): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const item of s.client.listObjectsV2(
      s.backupBucket,
      `${env}/`,
      false,
    ) as unknown as AsyncIterable<BucketItem>) {
      if (item.prefix) ids.push(item.prefix.slice(env.length + 1).replace(/\/$/, ''));
    }
  } catch (err) {
    throw new BackupStoreError(`${env}/`, 'list', err);
  }
  return ids.sort();
}

/** Delete every object under a prefix (an aborted backup's parts). Returns how many. */
export async function removePrefix(s: BackupStore, prefix: string): Promise<number> {
  let n = 0;
  const batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const keys = batch.splice(0);
    try {
      await guard(prefix, 'delete objects under', () => s.client.removeObjects(s.backupBucket, keys));
    } catch {
      // A multi-object delete can fail as a whole where single deletes work (s3rver
      // answers some DeleteObjects with 500): fall back to one request per key, so the
      // error that remains names the object that really cannot be deleted.
      for (const key of keys) await guard(key, 'delete', () => s.client.removeObject(s.backupBucket, key));
    }
  };
  try {
    for await (const item of listAll(s, prefix)) {
      if (!item.name) continue;
      batch.push(item.name);
      n++;
      if (batch.length >= 500) await flush();
    }
  } catch (err) {
    if (err instanceof BackupStoreError) throw err;
    throw new BackupStoreError(prefix, 'list', err);
  }
  await flush();
  return n;
}
