/**
 * Checkpoint objects in the store (the tenant-data bucket, S3_BUCKET, under
 * `checkpoints/`): written once, never overwritten, listed and read back.
 *
 * Write-once has three layers, because the stores differ:
 *  1. every write of a key holds a Postgres advisory lock on that key (transaction
 *     scoped, so it also works behind a transaction-pooling proxy): two Bulwark
 *     processes checkpointing the same tenant and hour take turns;
 *  2. under the lock, the key is looked up first (HEAD): present means done;
 *  3. the PUT carries `If-None-Match: *`, which S3 and MinIO honour (412 when the key
 *     exists), for any writer that does not take the lock. s3rver ignores the header,
 *     so there the lock is what holds.
 * Every store call goes through storeCall: an unreachable store is a
 * StorageUnavailableError naming S3_ENDPOINT and the store's code, never a key.
 */
import type pg from 'pg';
import { storeCall, type Storage } from '../clients/storage.js';
import { CHECKPOINT_ROOT, tenantCheckpointPrefix } from './format.js';

export type PutResult = 'written' | 'exists';

const isMissing = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'NotFound' || code === 'NoSuchKey';
};

async function exists(storage: Storage, key: string): Promise<boolean> {
  return storeCall(storage, `look up checkpoint ${key}`, async () => {
    try {
      await storage.client.statObject(storage.bucket, key);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  });
}

/**
 * Write `body` at `key` unless an object is there already; 'exists' then (nothing is
 * written). Throws StorageUnavailableError when the store fails (the caller retries).
 */
export async function putCheckpointOnce(
  storage: Storage,
  pool: pg.Pool,
  key: string,
  body: Buffer,
): Promise<PutResult> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`bulwark:checkpoint:${key}`]);
    const result: PutResult = (await exists(storage, key))
      ? 'exists'
      : await storeCall(storage, `write checkpoint ${key}`, async () => {
          try {
            await storage.client.putObject(storage.bucket, key, body, body.length, {
              'Content-Type': 'application/json',
              'If-None-Match': '*',
            });
            return 'written';
          } catch (err) {
            // Written by someone else between our look-up and our PUT (a store that honours the header).
            if ((err as { code?: unknown }).code === 'PreconditionFailed') return 'exists';
            throw err;
          }
        });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => void (broken = true));
    throw err;
  } finally {
    client.release(broken || undefined);
  }
}

/**
 * The keys of one tenant's checkpoints, oldest hour first (keys sort by hour), from
 * `since` (a `YYYY-MM-DD` day, inclusive) when given.
 */
export async function listCheckpointKeys(storage: Storage, tenantId: string, since?: string): Promise<string[]> {
  const prefix = tenantCheckpointPrefix(tenantId);
  // Keys sort by day then hour: start after the last key of the day before `since`.
  const startAfter = since ? `${prefix}${since}` : '';
  return storeCall(
    storage,
    `list ${prefix}`,
    async () => {
      const keys: string[] = [];
      const stream = storage.client.listObjectsV2(storage.bucket, prefix, true, startAfter);
      for await (const item of stream as AsyncIterable<{ name?: string }>) if (item.name) keys.push(item.name);
      return keys.sort();
    },
    60_000,
  );
}

/**
 * Every key under `checkpoints/`, whatever tenant it names (one recursive listing:
 * s3rver's listing by delimiter misses folders with no object directly in them), sorted,
 * so by tenant and then hour; from `since` (YYYY-MM-DD) on when given.
 */
export async function listAllCheckpointKeys(storage: Storage, since?: string): Promise<string[]> {
  return storeCall(
    storage,
    `list ${CHECKPOINT_ROOT}`,
    async () => {
      const keys: string[] = [];
      const stream = storage.client.listObjectsV2(storage.bucket, CHECKPOINT_ROOT, true);
      for await (const item of stream as AsyncIterable<{ name?: string }>) {
        // checkpoints/{tenant}/{day}/…: the day is the third segment.
        if (item.name && (!since || (item.name.split('/')[2] ?? '') >= since)) keys.push(item.name);
      }
      return keys.sort();
    },
    600_000,
  );
}

/** A checkpoint object's bytes, or undefined when it is gone. At most 64 KiB are read. */
export async function readCheckpoint(storage: Storage, key: string): Promise<Buffer | undefined> {
  return storeCall(storage, `read checkpoint ${key}`, async () => {
    try {
      const stream = await storage.client.getObject(storage.bucket, key);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of stream as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > 65536) {
          stream.destroy();
          break;
        }
        chunks.push(c);
      }
      return Buffer.concat(chunks);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  });
}
