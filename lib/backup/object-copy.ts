/**
 * Copying one object into or out of a backup, and reading one back to hash it. The
 * copy is server-side (S3 CopyObject: the bytes never pass through this process, its
 * metadata and content type go with it); the SHA-256 is taken by streaming the copy
 * back, so what a manifest vouches for is what the destination holds, not what the
 * source held a moment earlier. Memory: one network chunk.
 */
import { createHash } from 'node:crypto';
import type { BackupStore } from './context.js';
import { guard } from './store.js';
import { withTimeout } from '../time.js';
import { BackupStoreError, onceMore, PART_CALL_TIMEOUT_MS } from './store.js';

export interface ObjectDigest {
  size: number;
  sha256: string;
}

const missing = (err: unknown) => {
  const code = (err as { code?: string }).code;
  return code === 'NoSuchKey' || code === 'NotFound';
};

/** Size and SHA-256 of an object as stored, or undefined when there is none. */
export async function hashObject(store: BackupStore, bucket: string, key: string): Promise<ObjectDigest | undefined> {
  try {
    return await onceMore(() =>
      withTimeout(
        (async () => {
          const stream = await store.client.getObject(bucket, key);
          const hash = createHash('sha256');
          let size = 0;
          for await (const chunk of stream) {
            hash.update(chunk as Buffer);
            size += (chunk as Buffer).length;
          }
          return { size, sha256: hash.digest('hex') };
        })(),
        PART_CALL_TIMEOUT_MS,
        `read ${key}`,
      ),
    );
  } catch (err) {
    if (missing(err)) return undefined;
    throw new BackupStoreError(key, 'read', err);
  }
}

/**
 * Server-side copy of `from` to `to` (buckets may differ), then the copy hashed.
 * Undefined when the source is gone (deleted since it was listed: nothing to keep).
 */
export async function copyObject(
  store: BackupStore,
  from: { bucket: string; key: string },
  to: { bucket: string; key: string },
): Promise<ObjectDigest | undefined> {
  try {
    await onceMore(() =>
      withTimeout(
        store.client.copyObject(to.bucket, to.key, `/${from.bucket}/${from.key}`),
        PART_CALL_TIMEOUT_MS,
        `copy ${from.key}`,
      ),
    );
  } catch (err) {
    if (missing(err)) return undefined;
    throw new BackupStoreError(from.key, 'copy', err);
  }
  const digest = await hashObject(store, to.bucket, to.key);
  if (!digest) throw new BackupStoreError(to.key, 'read back', new Error('NoSuchKey'));
  return digest;
}

/** Whether an object exists (HEAD), without reading it. */
export async function objectSize(store: BackupStore, bucket: string, key: string): Promise<number | undefined> {
  try {
    return (await guard(key, 'stat', () => store.client.statObject(bucket, key))).size;
  } catch (err) {
    if (err instanceof BackupStoreError && (err.code === 'NotFound' || err.code === 'NoSuchKey')) return undefined;
    throw err;
  }
}
