/**
 * One tenant's retention: for each class, measure what expired and what holds keep
 * (a dry run stops there), else open (or resume) the class's receipt and delete in
 * batches of at most `batchSize`, each in its own transaction together with the
 * receipt's update, until nothing expired is left or `maxMsPerClass` has passed (the
 * rest is the next run's), then finish the receipt.
 */
import type { PrismaClient } from '../clients/prisma.js';
import { getTenantSettings } from '../tenants/settings-store.js';
import { OBJECT_CLASSES, ROW_CLASSES, type RetentionClass, type RowClass } from './classes.js';
import { activeHolds } from './holds.js';
import { measureObjects, purgeObjects, type ObjectStore } from './objects.js';
import { retentionPolicy, type ClassPolicy } from './policy.js';
import { advanceReceipt, finishReceipt, openReceipt } from './receipts.js';
import { deleteRowBatch, measureRows, type ClassMeasure } from './rows.js';

export interface RetentionOptions {
  dryRun?: boolean;
  /** Rows or keys per batch (one transaction / one delete request). Default: 1000. */
  batchSize?: number;
  /** Time one class may take in one run; what is left goes the next run. Default: 60000 ms. */
  maxMsPerClass?: number;
  /** Id shared by the receipts of one run. Default: the run's start, ISO. */
  runId?: string;
  /** Classes to take. Default: all (object classes only with a store). */
  classes?: readonly RetentionClass[];
  /** The object store; without one, object classes are skipped. */
  store?: ObjectStore;
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
}

export async function runTenantRetention(
  prisma: PrismaClient,
  tenantId: string,
  options: RetentionOptions = {},
): Promise<ClassOutcome[]> {
  const now = (options.now ?? (() => new Date()))();
  const batchSize = options.batchSize ?? 1000;
  const maxMs = options.maxMsPerClass ?? 60_000;
  const runId = options.runId ?? now.toISOString();
  const settings = await getTenantSettings(prisma, tenantId);
  const wanted = new Set(options.classes ?? [...ROW_CLASSES, ...OBJECT_CLASSES.map((c) => c.name)]);
  const holds = await activeHolds(prisma, tenantId, now);
  const out: ClassOutcome[] = [];
  for (const policy of retentionPolicy(settings, now)) {
    if (!wanted.has(policy.class)) continue;
    const objectClass = OBJECT_CLASSES.find((c) => c.name === policy.class);
    if (objectClass && !options.store) continue;
    if (options.dryRun) {
      const m = objectClass
        ? await measureObjects(options.store!, tenantId, objectClass, policy.cutoff, holds)
        : await measureRows(prisma, policy.class as RowClass, tenantId, policy.cutoff);
      out.push({
        ...m,
        class: policy.class,
        ttlDays: policy.ttlDays,
        cutoff: policy.cutoff,
        dryRun: true,
        deleted: 0,
        complete: true,
      });
      continue;
    }
    const { receipt, resumed } = await openReceipt(
      prisma,
      tenantId,
      runId,
      policy,
      holds.map((h) => h.id),
    );
    // A resumed receipt keeps the cutoff it was opened with: its work is finished as begun.
    const cutoff = receipt.cutoff;
    const started = Date.now();
    let deleted = 0;
    let complete = false;
    if (objectClass) {
      const r = await purgeObjects(prisma, options.store!, tenantId, objectClass, cutoff, holds, receipt, {
        batchSize,
        maxMs,
        onDeleted: (n) => options.onDeleted?.(policy.class, n),
      });
      deleted = r.deleted;
      complete = r.complete;
    } else {
      for (;;) {
        const batch = await prisma.$transaction(async (tx) => {
          const rows = await deleteRowBatch(tx, policy.class as RowClass, tenantId, cutoff, batchSize, receipt.id);
          await advanceReceipt(tx, receipt.id, rows);
          return rows;
        });
        deleted += batch.ids.length;
        if (batch.ids.length) options.onDeleted?.(policy.class, batch.ids.length);
        if (batch.ids.length < batchSize) {
          complete = true;
          break;
        }
        if (Date.now() - started >= maxMs) break;
      }
    }
    const left = objectClass
      ? await measureObjects(options.store!, tenantId, objectClass, cutoff, holds)
      : await measureRows(prisma, policy.class as RowClass, tenantId, cutoff);
    const done = await finishReceipt(prisma, receipt.id, { total: left.held, holds: left.holds }, complete);
    out.push({
      ...left,
      count: Number(done.deleted),
      oldest: done.oldest,
      newest: done.newest,
      bytes: Number(done.bytes),
      class: policy.class,
      ttlDays: done.ttlDays,
      cutoff,
      dryRun: false,
      deleted,
      receiptId: done.id,
      complete,
      resumed,
    });
  }
  return out;
}

export type { ClassPolicy };
