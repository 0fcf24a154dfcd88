/**
 * Object classes. Keys are `tenant/{id}/{class prefix}/{YYYY-MM-DD}/…`, so the expired
 * objects are the ones under day prefixes older than the cutoff's day. A run lists the
 * class's day prefixes (one entry per day, not per object, oldest first, and stops at
 * the first day still live), then the keys under each expired day only: the keys it
 * lists are the ones it deletes, plus those holds keep.
 */
import type { Client } from 'minio';
import type { PrismaClient } from '../clients/prisma.js';
import type { LegalHold } from './holds.js';
import { holdsObject } from './holds.js';
import { objectClassPrefix, type ObjectClass } from './classes.js';
import type { ClassMeasure } from './rows.js';
import { advanceReceipt, type RetentionReceipt } from './receipts.js';

/** The object store as lib/clients/storage.ts makes it (only what retention needs). */
export interface ObjectStore {
  client: Client;
  bucket: string;
}

export interface ListedObject {
  key: string;
  size: number;
  at: Date;
}

/** A period prefix: a UTC day or month. */
const PERIOD = /^(\d{4}-\d{2}(?:-\d{2})?)\/$/;

/** Counted as they are listed: the bench reports keys listed per key deleted. */
export const listingStats = { keysListed: 0, prefixesListed: 0 };

/** The class's period prefixes (days or months) wholly before the cutoff, oldest first. */
export async function expiredDays(
  store: ObjectStore,
  tenantId: string,
  c: ObjectClass,
  cutoff: Date,
): Promise<string[]> {
  const base = objectClassPrefix(tenantId, c);
  const cutoffIso = cutoff.toISOString();
  const days: string[] = [];
  const stream = store.client.listObjectsV2(store.bucket, base, false);
  for await (const item of stream as AsyncIterable<{ prefix?: string; name?: string }>) {
    if (!item.prefix) continue;
    listingStats.prefixesListed++;
    const period = PERIOD.exec(item.prefix.slice(base.length))?.[1];
    if (!period) continue;
    // Prefixes come in key order, which for YYYY-MM(-DD) is date order: the first
    // period not wholly before the cutoff's (same-length) period ends the listing.
    if (period >= cutoffIso.slice(0, period.length)) {
      (stream as unknown as { destroy(): void }).destroy();
      break;
    }
    days.push(item.prefix);
  }
  return days;
}

export async function listDay(store: ObjectStore, dayPrefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const o of store.client.listObjectsV2(store.bucket, dayPrefix, true) as AsyncIterable<{
    name?: string;
    size?: number;
    lastModified?: Date;
  }>) {
    if (!o.name) continue;
    listingStats.keysListed++;
    out.push({ key: o.name, size: o.size ?? 0, at: dayOf(o.name) });
  }
  return out;
}

function dayOf(key: string): Date {
  const m = /\/(\d{4}-\d{2})(-\d{2})?\//.exec(key);
  return m ? new Date(`${m[1]}${m[2] ?? '-01'}T00:00:00.000Z`) : new Date(0);
}

export async function measureObjects(
  store: ObjectStore,
  tenantId: string,
  c: ObjectClass,
  cutoff: Date,
  holds: LegalHold[],
): Promise<ClassMeasure> {
  const m: ClassMeasure = { count: 0, oldest: null, newest: null, held: 0, holds: [], bytes: 0 };
  const kept = new Map<string, number>();
  for (const day of await expiredDays(store, tenantId, c, cutoff)) {
    for (const o of await listDay(store, day)) {
      const hold = holdsObject(holds, tenantId, o.key);
      if (hold) {
        m.held++;
        kept.set(hold.id, (kept.get(hold.id) ?? 0) + 1);
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

/**
 * Delete the class's expired, unheld objects. Each batch's keys are written to the
 * receipt (`pending`) before they are deleted and folded into its digest after, so a
 * run killed between the two finishes that batch next time (deleting a key already
 * gone succeeds) and the receipt never misses or doubles a key.
 */
export async function purgeObjects(
  prisma: PrismaClient,
  store: ObjectStore,
  tenantId: string,
  c: ObjectClass,
  cutoff: Date,
  holds: LegalHold[],
  receipt: RetentionReceipt,
  o: { batchSize: number; maxMs: number; onDeleted?: (n: number) => void },
): Promise<{ deleted: number; complete: boolean }> {
  const started = Date.now();
  let deleted = 0;
  const flush = async (batch: ListedObject[]) => {
    await prisma.retentionReceipt.update({
      where: { id: receipt.id },
      data: { pending: batch.map((b) => ({ key: b.key, size: b.size, at: b.at.toISOString() })) },
    });
    await store.client.removeObjects(
      store.bucket,
      batch.map((b) => b.key),
    );
    await prisma.$transaction((tx) =>
      advanceReceipt(tx, receipt.id, {
        ids: batch.map((b) => b.key),
        times: batch.map((b) => b.at),
        bytes: batch.reduce((n, b) => n + b.size, 0),
      }),
    );
    deleted += batch.length;
    o.onDeleted?.(batch.length);
  };
  const pending = (receipt.pending ?? null) as Array<{ key: string; size: number; at: string }> | null;
  if (pending?.length) await flush(pending.map((p) => ({ key: p.key, size: p.size, at: new Date(p.at) })));
  for (const day of await expiredDays(store, tenantId, c, cutoff)) {
    const doomed = (await listDay(store, day)).filter((x) => !holdsObject(holds, tenantId, x.key));
    for (let i = 0; i < doomed.length; i += o.batchSize) {
      await flush(doomed.slice(i, i + o.batchSize));
      if (Date.now() - started >= o.maxMs) return { deleted, complete: false };
    }
  }
  return { deleted, complete: true };
}
