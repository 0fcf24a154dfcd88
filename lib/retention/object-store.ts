/**
 * The object-store calls retention makes (lib/clients/storage.ts underneath): the
 * periods of a class wholly before a cutoff (probed one key at a time, oldest first,
 * stopped at the first live one), the keys under one period (paged), and deleting a
 * batch of keys.
 *
 * Every call has a time limit and is tried STORE_TRIES times with a growing pause; what
 * still fails is a StorageUnavailableError naming S3_ENDPOINT and what was being done
 * (never the credentials). Every entry the store returns is counted in ListingStats, so
 * "keys listed per key deleted" is measured, not assumed.
 */
import type { BucketItem } from 'minio';
import { StorageUnavailableError, storeCall, type Storage } from '../clients/storage.js';
import { OBJECT_CLASSES as STORE_CLASSES, periodStart, type Granularity } from '../storage/keys.js';
import type { ObjectClass } from './classes.js';

/** The store as lib/clients/storage.ts builds it (tenant objects are in its `bucket`). */
export type ObjectStore = Storage;

/** What the store returned to retention's listings. */
export interface ListingStats {
  /** Object keys returned (to delete, kept by holds, ending a class's search, or checked after a failed delete). */
  keysListed: number;
  /** List, delete and single-delete requests made. */
  requests: number;
}

export const newListingStats = (): ListingStats => ({ keysListed: 0, requests: 0 });

export interface StoreRetry {
  /** Attempts per call. Default: 3. */
  tries: number;
  /** Pause before the second attempt, doubled for each later one. Default: 500 ms. */
  pauseMs: number;
}

export const DEFAULT_STORE_RETRY: StoreRetry = { tries: 3, pauseMs: 500 };
/** A listing page or a 1,000-key delete may take this long before the try counts as failed. */
export const RETENTION_STORE_CALL_TIMEOUT_MS = 30_000;
/** Keys per listing page of one period (the S3 maximum). */
export const KEY_PAGE = 1000;

export interface ListedObject {
  key: string;
  size: number;
  /** The start of the key's period (UTC): the time its TTL counts from. */
  at: Date;
}

const PERIOD: Record<Granularity, RegExp> = { day: /^\d{4}-\d{2}-\d{2}$/, month: /^\d{4}-\d{2}$/ };

async function call<T>(
  store: ObjectStore,
  stats: ListingStats,
  what: string,
  fn: () => Promise<T>,
  retry: StoreRetry,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    stats.requests++;
    try {
      return await storeCall(store, what, fn, RETENTION_STORE_CALL_TIMEOUT_MS);
    } catch (err) {
      if (!(err instanceof StorageUnavailableError) || attempt >= retry.tries) {
        if (err instanceof StorageUnavailableError && retry.tries > 1)
          throw new StorageUnavailableError(`${err.message} (${attempt} tries)`, err.storeCode);
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, retry.pauseMs * 2 ** (attempt - 1)));
    }
  }
}

/**
 * The periods (`tenant/{id}/{class}/{period}/`) of a class wholly before the cutoff's,
 * oldest first, each with its first key. Found by probing, not by a delimiter listing:
 * one key is asked for at a time, starting after the last period seen, so the store
 * returns the first key of the next period that has any; keys come in key order, which
 * for YYYY-MM(-DD) is date order, and the first key of a period not wholly before the
 * cutoff ends the search. Each probe costs one request and one key, whatever the
 * class holds (a delimiter listing makes some stores read every key under the class,
 * s3rver among them). A segment that is not a real day or month of the class's
 * granularity is not the layout's: skipped, left alone.
 */
export async function* expiredPeriods(
  store: ObjectStore,
  base: string,
  c: ObjectClass,
  cutoff: Date,
  stats: ListingStats,
  retry: StoreRetry = DEFAULT_STORE_RETRY,
): AsyncGenerator<{ prefix: string; at: Date; first: ListedObject }> {
  const granularity = STORE_CLASSES[c.prefix].granularity;
  const cutoffPeriod = cutoff.toISOString().slice(0, granularity === 'day' ? 10 : 7);
  let after = '';
  for (;;) {
    const page = await call(
      store,
      stats,
      `list ${base}`,
      () => store.client.listObjectsV2Query(store.bucket, base, '', '', 1, after),
      retry,
    );
    const o = (page.objects as BucketItem[]).find((x) => typeof x.name === 'string');
    if (!o?.name) return;
    stats.keysListed++;
    const rest = o.name.slice(base.length);
    const slash = rest.indexOf('/');
    const segment = slash === -1 ? rest : rest.slice(0, slash);
    // Every key under `{segment}/` sorts before `{segment}0` ('/' < '0'): the next probe skips them.
    after = `${base}${segment}0`;
    const at = PERIOD[granularity].test(segment) ? periodStart(segment) : undefined;
    if (slash === -1 || !at || Number.isNaN(at.getTime()) || at.toISOString().slice(0, segment.length) !== segment)
      continue;
    if (segment >= cutoffPeriod) return;
    yield { prefix: `${base}${segment}/`, at, first: { key: o.name, size: o.size ?? 0, at } };
  }
}

/** The keys of one period, its first (from the probe) included, a page (at most KEY_PAGE) at a time, in key order. */
export async function* periodKeys(
  store: ObjectStore,
  period: { prefix: string; at: Date; first: ListedObject },
  stats: ListingStats,
  retry: StoreRetry = DEFAULT_STORE_RETRY,
): AsyncGenerator<ListedObject[]> {
  let token = '';
  let head: ListedObject[] = [period.first];
  for (;;) {
    const page = await call(
      store,
      stats,
      `list ${period.prefix}`,
      () =>
        store.client.listObjectsV2Query(
          store.bucket,
          period.prefix,
          token,
          '',
          KEY_PAGE - head.length,
          period.first.key,
        ),
      retry,
    );
    const objects = (page.objects as BucketItem[])
      .filter((o): o is BucketItem & { name: string } => typeof o.name === 'string')
      .map((o) => ({ key: o.name, size: o.size ?? 0, at: period.at }));
    stats.keysListed += objects.length;
    if (head.length + objects.length) yield [...head, ...objects];
    head = [];
    if (!page.isTruncated || !page.nextContinuationToken) return;
    token = page.nextContinuationToken;
  }
}

/**
 * Delete a batch of keys, all under `prefix` and in key order, `after` being the key
 * listed just before the batch ('' for none). One multi-object delete; when it fails as
 * a whole (s3rver answers 500 to one that empties a folder, after deleting), it is sent
 * once more, and when that fails too, the keys of the batch still there are listed
 * (from `after` up to the batch's last key) and deleted one request each, as
 * lib/backup/store.ts removePrefix does, so the error that remains names a store that
 * really refuses.
 */
export async function removeBatch(
  store: ObjectStore,
  prefix: string,
  keys: readonly string[],
  after: string,
  stats: ListingStats,
  retry: StoreRetry = DEFAULT_STORE_RETRY,
): Promise<void> {
  if (keys.length === 0) return;
  const what = `delete ${keys.length} objects under ${prefix}`;
  let left: string[];
  try {
    const errors = await call(store, stats, what, () => store.client.removeObjects(store.bucket, [...keys]), {
      ...retry,
      tries: 1,
    });
    // Per-key refusals come back in the answer; a missing key is no refusal in S3.
    // (minio hands back the Error elements themselves, whatever its type says).
    left = (errors as Array<{ Key?: string; Error?: { Key?: string } } | null | undefined>)
      .map((e) => e?.Key ?? e?.Error?.Key)
      .filter((k): k is string => typeof k === 'string');
  } catch (err) {
    if (!(err instanceof StorageUnavailableError)) throw err;
    try {
      // Once more as a whole, at once: what failed was often done (deleting a key already
      // gone succeeds), and one request settles it.
      await call(store, stats, what, () => store.client.removeObjects(store.bucket, [...keys]), { ...retry, tries: 1 });
      left = [];
    } catch (again) {
      if (!(again instanceof StorageUnavailableError)) throw again;
      left = await stillThere(store, prefix, keys, after, stats, retry);
    }
  }
  for (const key of left)
    await call(
      store,
      stats,
      `delete an object under ${prefix}`,
      () => store.client.removeObject(store.bucket, key),
      retry,
    );
}

async function stillThere(
  store: ObjectStore,
  prefix: string,
  keys: readonly string[],
  after: string,
  stats: ListingStats,
  retry: StoreRetry,
): Promise<string[]> {
  const wanted = new Set(keys);
  const last = keys[keys.length - 1]!;
  const found: string[] = [];
  let token = '';
  for (;;) {
    const page = await call(
      store,
      stats,
      `list ${prefix} after a failed delete`,
      () => store.client.listObjectsV2Query(store.bucket, prefix, token, '', KEY_PAGE, after),
      retry,
    );
    for (const o of page.objects as BucketItem[]) {
      if (!o.name) continue;
      stats.keysListed++;
      if (o.name > last) return found;
      if (wanted.has(o.name)) found.push(o.name);
    }
    if (!page.isTruncated || !page.nextContinuationToken) return found;
    token = page.nextContinuationToken;
  }
}
