/**
 * Object classes. Keys are `tenant/{id}/{class}/{period}/{id}.{ext}` (lib/storage/keys.ts),
 * so the expired objects are those under periods wholly before the cutoff's. A run
 * finds the expired periods by probing one key at a time in key order (object-store.ts),
 * oldest first, stopping at the first live one, then lists the keys of each expired
 * period only: the keys it lists are the ones it deletes, plus those holds keep, plus
 * the one live key that ends the search. An object goes at the first run after its
 * whole period is past the cutoff: a day class up to a day after its TTL, a month class
 * up to a month after.
 */
import type { PrismaClient } from '../clients/prisma.js';
import { classPrefix } from '../storage/keys.js';
import type { ObjectClass } from './classes.js';
import { holdsObject, type LegalHold } from './holds.js';
import {
  expiredPeriods,
  periodKeys,
  removeBatch,
  type ListedObject,
  type ListingStats,
  type ObjectStore,
  type StoreRetry,
} from './object-store.js';
import { advanceReceipt, type RetentionReceipt } from './receipts.js';
import type { ClassMeasure } from './rows.js';

/** The store and what a run counts of its listings. */
export interface ObjectScope {
  store: ObjectStore;
  stats: ListingStats;
  retry?: StoreRetry;
}

/** Every expired object of the class, a listing page at a time, each with the hold that keeps it (if any). */
async function* expired(
  s: ObjectScope,
  tenantId: string,
  c: ObjectClass,
  cutoff: Date,
  holds: LegalHold[],
): AsyncGenerator<{ period: string; objects: Array<ListedObject & { hold?: LegalHold }> }> {
  for await (const period of expiredPeriods(s.store, classPrefix(tenantId, c.prefix), c, cutoff, s.stats, s.retry)) {
    for await (const page of periodKeys(s.store, period, s.stats, s.retry)) {
      yield { period: period.prefix, objects: page.map((o) => ({ ...o, hold: holdsObject(holds, tenantId, o.key) })) };
    }
  }
}

export async function measureObjects(
  s: ObjectScope,
  tenantId: string,
  c: ObjectClass,
  cutoff: Date,
  holds: LegalHold[],
): Promise<ClassMeasure> {
  const m: ClassMeasure = { count: 0, oldest: null, newest: null, held: 0, holds: [], bytes: 0 };
  const kept = new Map<string, number>();
  for await (const { objects } of expired(s, tenantId, c, cutoff, holds)) {
    for (const o of objects) {
      if (o.hold) {
        m.held++;
        kept.set(o.hold.id, (kept.get(o.hold.id) ?? 0) + 1);
        continue;
      }
      m.count++;
      m.bytes! += o.size;
      if (!m.oldest || o.at < m.oldest) m.oldest = o.at;
      if (!m.newest || o.at > m.newest) m.newest = o.at;
    }
  }
  m.holds = [...kept].map(([id, n]) => ({ id, kept: n }));
  return m;
}

type Pending = Array<{ key: string; size: number; at: string }>;

/**
 * Delete the class's expired, unheld objects in batches of at most `batchSize` keys (one
 * multi-object delete each). Each batch's keys are written to the receipt (`pending`)
 * before they are deleted and folded into its digest after, so a run stopped between
 * the two (killed, or the store gone) finishes that batch next time (deleting a key
 * already gone succeeds) and the receipt never misses or doubles a key. Returns what
 * holds kept among the keys it listed (all of them when complete).
 */
export async function purgeObjects(
  prisma: PrismaClient,
  s: ObjectScope,
  tenantId: string,
  c: ObjectClass,
  cutoff: Date,
  holds: LegalHold[],
  receipt: RetentionReceipt,
  o: { batchSize: number; maxMs: number; onDeleted?: (n: number) => void },
): Promise<{ deleted: number; complete: boolean; held: ClassMeasure['held']; holds: ClassMeasure['holds'] }> {
  const started = Date.now();
  let deleted = 0;
  let digest = receipt.digest;
  const kept = new Map<string, number>();
  const result = (complete: boolean) => ({
    deleted,
    complete,
    held: [...kept.values()].reduce((a, b) => a + b, 0),
    holds: [...kept].map(([id, kept]) => ({ id, kept })),
  });
  const flush = async (batch: ListedObject[], prefix: string, after: string) => {
    const pending: Pending = batch.map((b) => ({ key: b.key, size: b.size, at: b.at.toISOString() }));
    await prisma.retentionReceipt.update({ where: { id: receipt.id }, data: { pending, updatedAt: new Date() } });
    await removeBatch(
      s.store,
      prefix,
      batch.map((b) => b.key),
      after,
      s.stats,
      s.retry,
    );
    digest = await advanceReceipt(
      prisma,
      receipt.id,
      { ids: batch.map((b) => b.key), times: batch.map((b) => b.at), bytes: batch.reduce((n, b) => n + b.size, 0) },
      digest,
    );
    deleted += batch.length;
    o.onDeleted?.(batch.length);
  };
  const timeUp = () => Date.now() - started >= o.maxMs;

  const pending = (receipt.pending ?? null) as Pending | null;
  if (pending?.length) {
    const first = pending[0]!.key;
    await flush(
      pending.map((p) => ({ key: p.key, size: p.size, at: new Date(p.at) })),
      first.slice(0, first.lastIndexOf('/') + 1),
      '',
    );
  }
  // `prev`: the key listed just before the batch, where a check after a failed delete starts.
  let period = '';
  let prev = '';
  for await (const page of expired(s, tenantId, c, cutoff, holds)) {
    if (page.period !== period) [period, prev] = [page.period, ''];
    let batch: ListedObject[] = [];
    let after = prev;
    for (const obj of page.objects) {
      if (obj.hold) kept.set(obj.hold.id, (kept.get(obj.hold.id) ?? 0) + 1);
      else {
        if (batch.length === 0) after = prev;
        batch.push(obj);
      }
      prev = obj.key;
      if (batch.length >= o.batchSize) {
        await flush(batch, period, after);
        batch = [];
        if (timeUp()) return result(false);
      }
    }
    if (batch.length) {
      await flush(batch, period, after);
      if (timeUp()) return result(false);
    }
  }
  return result(true);
}
