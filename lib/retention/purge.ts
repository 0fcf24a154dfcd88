/**
 * One class's real run for a tenant (lib/retention/run.ts decides which): open or resume
 * its receipt, delete in batches (rows through deleteRowBatch, each batch one
 * transaction with its receipt's update; objects through objects.ts), count what holds
 * kept, finish the receipt. An object store that fails after its retries leaves the
 * receipt running with the error and returns an outcome carrying it.
 */
import type { PrismaClient } from '../clients/prisma.js';
import { StorageUnavailableError } from '../clients/storage.js';
import type { ObjectClass, RetentionClass, RowClass } from './classes.js';
import type { LegalHold } from './holds.js';
import type { ListingStats, ObjectStore, StoreRetry } from './object-store.js';
import { purgeObjects, type ObjectScope } from './objects.js';
import type { ClassPolicy } from './policy.js';
import { advanceReceipt, finishReceipt, openReceipt, type HoldCount, type RetentionReceipt } from './receipts.js';
import { deleteRowBatch, measureRows, type ClassMeasure } from './rows.js';

/** Rows per batch by default: each batch's transaction costs a few round trips, worth spreading. */
export const ROW_BATCH = 5000;
/** Keys per multi-object delete by default, the most S3 takes in one. */
export const OBJECT_BATCH = 1000;

export interface RetentionOptions {
  dryRun?: boolean;
  /**
   * Rows per batch (one transaction) and keys per batch (one delete request, at most
   * 1000, the S3 limit). Default: ROW_BATCH rows, OBJECT_BATCH keys.
   */
  batchSize?: number;
  /** Time one class may take in one run; what is left goes the next run. Default: 60000 ms. */
  maxMsPerClass?: number;
  /** Id shared by the receipts of one run. Default: the run's start, ISO. */
  runId?: string;
  /** Classes to take. Default: all (object classes only with a store). */
  classes?: readonly RetentionClass[];
  /** The object store; without one, object classes are skipped. */
  store?: ObjectStore;
  /** Counts what the store's listings return (default: a fresh count per call). */
  listing?: ListingStats;
  /** Tries per store call. Default: object-store.ts DEFAULT_STORE_RETRY. */
  storeRetry?: StoreRetry;
  /** Told after each batch: class and rows or objects deleted. */
  onDeleted?: (cls: RetentionClass, n: number) => void;
  now?: () => Date;
}

export interface ClassOutcome extends ClassMeasure {
  class: RetentionClass;
  ttlDays: number;
  cutoff: Date;
  dryRun: boolean;
  /** Deleted by this run (0 on a dry run). */
  deleted: number;
  receiptId?: string;
  /** False when the time budget ran out with expired data left. */
  complete: boolean;
  resumed?: boolean;
  /** Why the class stopped: the object store failed after its retries (its receipt stays running). */
  error?: string;
}

export const EMPTY = { count: 0, oldest: null, newest: null, held: 0, holds: [] };

export async function purgeClass(
  prisma: PrismaClient,
  tenantId: string,
  policy: ClassPolicy,
  runId: string,
  holds: LegalHold[],
  scope: ObjectScope | undefined,
  objectClass: ObjectClass | undefined,
  o: RetentionOptions & { batchSize: number; objectBatch: number; maxMs: number },
): Promise<ClassOutcome> {
  const { receipt, resumed } = await openReceipt(
    prisma,
    tenantId,
    runId,
    policy,
    holds.map((h) => h.id),
  );
  // A resumed receipt keeps the cutoff it was opened with: its work is finished as begun.
  const cutoff = receipt.cutoff;
  const onDeleted = (n: number) => o.onDeleted?.(policy.class, n);
  let r: { deleted: number; complete: boolean; held: number; holds: HoldCount[] };
  if (objectClass) {
    try {
      r = await purgeObjects(prisma, scope!, tenantId, objectClass, cutoff, holds, receipt, {
        maxMs: o.maxMs,
        batchSize: o.objectBatch,
        onDeleted,
      });
    } catch (err) {
      if (!(err instanceof StorageUnavailableError)) throw err;
      // The receipt stays running with what was done; the error says why it stopped.
      const stopped = await prisma.retentionReceipt.update({
        where: { id: receipt.id },
        data: { error: err.message.slice(0, 500), updatedAt: new Date() },
      });
      return {
        ...EMPTY,
        class: policy.class,
        ttlDays: stopped.ttlDays,
        cutoff,
        dryRun: false,
        count: Number(stopped.deleted),
        oldest: stopped.oldest,
        newest: stopped.newest,
        bytes: Number(stopped.bytes),
        deleted: Number(stopped.deleted - receipt.deleted),
        receiptId: stopped.id,
        complete: false,
        resumed,
        error: err.message,
      };
    }
  } else {
    const { deleted, complete } = await purgeRows(
      prisma,
      policy.class as RowClass,
      tenantId,
      cutoff,
      receipt,
      o,
      onDeleted,
    );
    // What holds kept: nothing to count when no hold is active.
    const left = holds.length
      ? await measureRows(prisma, policy.class as RowClass, tenantId, cutoff)
      : { held: 0, holds: [] };
    r = { deleted, complete, held: left.held, holds: left.holds };
  }
  const done = await finishReceipt(prisma, receipt.id, { total: r.held, holds: r.holds }, r.complete);
  return {
    held: r.held,
    holds: r.holds,
    count: Number(done.deleted),
    oldest: done.oldest,
    newest: done.newest,
    bytes: Number(done.bytes),
    class: policy.class,
    ttlDays: done.ttlDays,
    cutoff,
    dryRun: false,
    deleted: r.deleted,
    receiptId: done.id,
    complete: r.complete,
    resumed,
  };
}

async function purgeRows(
  prisma: PrismaClient,
  cls: RowClass,
  tenantId: string,
  cutoff: Date,
  receipt: RetentionReceipt,
  o: { batchSize: number; maxMs: number },
  onDeleted: (n: number) => void,
): Promise<{ deleted: number; complete: boolean }> {
  const started = Date.now();
  let deleted = 0;
  let digest = receipt.digest;
  for (;;) {
    const batch = await prisma.$transaction(async (tx) => {
      const rows = await deleteRowBatch(tx, cls, tenantId, cutoff, o.batchSize, receipt.id);
      return { ...rows, digest: await advanceReceipt(tx, receipt.id, rows, digest) };
    });
    digest = batch.digest;
    deleted += batch.ids.length;
    if (batch.ids.length) onDeleted(batch.ids.length);
    if (batch.ids.length < o.batchSize) return { deleted, complete: true };
    if (Date.now() - started >= o.maxMs) return { deleted, complete: false };
  }
}
