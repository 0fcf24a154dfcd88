/**
 * One tenant's retention: for each class, measure what expired and what holds keep
 * (a dry run stops there), else open (or resume) the class's receipt and delete in
 * batches (ROW_BATCH rows, OBJECT_BATCH keys), each in its own transaction together with the
 * receipt's update, until nothing expired is left or `maxMsPerClass` has passed (the
 * rest is the next run's), then finish the receipt.
 *
 * Row classes go first, object classes after. An object store that still fails after
 * its retries (object-store.ts) ends only that class: its receipt stays `running` with
 * what was done and the error (the next attempt resumes it), the outcome carries the
 * error, and the other classes go on. A class already finished under the same run id
 * (a retried tenant job) is not done again.
 */
import type { PrismaClient } from '../clients/prisma.js';
import { getTenantSettings } from '../tenants/settings-store.js';
import { OBJECT_CLASSES, ROW_CLASSES, type RowClass } from './classes.js';
import { activeHolds } from './holds.js';
import { StorageUnavailableError } from '../clients/storage.js';
import { newListingStats } from './object-store.js';
import { measureObjects, type ObjectScope } from './objects.js';
import { retentionPolicy, type ClassPolicy } from './policy.js';
import { EMPTY, OBJECT_BATCH, purgeClass, ROW_BATCH, type ClassOutcome, type RetentionOptions } from './purge.js';
import { measureRows } from './rows.js';

export { OBJECT_BATCH, ROW_BATCH, type ClassOutcome, type RetentionOptions } from './purge.js';

export async function runTenantRetention(
  prisma: PrismaClient,
  tenantId: string,
  options: RetentionOptions = {},
): Promise<ClassOutcome[]> {
  const now = (options.now ?? (() => new Date()))();
  const batchSize = options.batchSize ?? ROW_BATCH;
  const objectBatch = Math.min(options.batchSize ?? OBJECT_BATCH, OBJECT_BATCH);
  const maxMs = options.maxMsPerClass ?? 60_000;
  const runId = options.runId ?? now.toISOString();
  const settings = await getTenantSettings(prisma, tenantId);
  const wanted = new Set(options.classes ?? [...ROW_CLASSES, ...OBJECT_CLASSES.map((c) => c.name)]);
  const holds = await activeHolds(prisma, tenantId, now);
  const scope: ObjectScope | undefined = options.store && {
    store: options.store,
    stats: options.listing ?? newListingStats(),
    retry: options.storeRetry,
  };
  const doneInRun = options.dryRun
    ? new Set<string>()
    : new Set(
        (
          await prisma.retentionReceipt.findMany({
            where: { tenantId, runId, status: 'done' },
            select: { class: true },
          })
        ).map((r) => r.class),
      );
  const out: ClassOutcome[] = [];
  for (const policy of retentionPolicy(settings, now)) {
    if (!wanted.has(policy.class) || doneInRun.has(policy.class)) continue;
    const objectClass = OBJECT_CLASSES.find((c) => c.name === policy.class);
    if (objectClass && !scope) continue;
    const base = { class: policy.class, ttlDays: policy.ttlDays, cutoff: policy.cutoff, dryRun: !!options.dryRun };
    if (options.dryRun) {
      try {
        const m = objectClass
          ? await measureObjects(scope!, tenantId, objectClass, policy.cutoff, holds)
          : await measureRows(prisma, policy.class as RowClass, tenantId, policy.cutoff);
        out.push({ ...m, ...base, deleted: 0, complete: true });
      } catch (err) {
        if (!(err instanceof StorageUnavailableError)) throw err;
        out.push({ ...EMPTY, ...base, deleted: 0, complete: false, error: err.message });
      }
      continue;
    }
    out.push(
      await purgeClass(prisma, tenantId, policy, runId, holds, scope, objectClass, {
        ...options,
        batchSize,
        objectBatch,
        maxMs,
      }),
    );
  }
  return out;
}

export type { ClassPolicy };
