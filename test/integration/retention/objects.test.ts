// Object classes against a real S3 server (s3rver behind a TCP proxy): expired objects
// are found through the period part of their keys (the live ones are never listed),
// deleted in batches, prefix holds respected, dry runs report count, oldest, newest and
// bytes, receipts account for every key; an unreachable store is retried, stops only
// its classes with the receipt saying what was done, and the next run finishes it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { StorageUnavailableError } from '../../../lib/clients/storage.js';
import { createLogger } from '../../../lib/logger.js';
import { createMetrics } from '../../../lib/metrics.js';
import { loadConfig } from '../../../lib/config.js';
import { EMPTY_DIGEST, foldDigest } from '../../../lib/retention/digest.js';
import { addHold, releaseHold } from '../../../lib/retention/holds.js';
import { newListingStats } from '../../../lib/retention/object-store.js';
import { runTenantRetention, type ClassOutcome } from '../../../lib/retention/run.js';
import { periodOf } from '../../../lib/storage/keys.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { processRetentionTenant } from '../../../workers/retention/processor.js';
import { createTestDatabaseWithPrisma, databaseTeardown, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { DAY_MS } from '../../helpers/retention.js';
import { listKeys, putObjects, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let db: TestDatabase;
let prisma: PrismaClient;
let store: RetentionStore;
let a: string;
let b: string;
const ADMIN = { type: 'user' as const, id: 'compliance' };
const RETRY = { tries: 2, pauseMs: 20 };
const seeded: Record<string, string[]> = {};
const day = (d: number) => periodOf('snapshots/raw', new Date(Date.now() - d * DAY_MS));
const byClass = (out: ClassOutcome[], cls: string) => out.find((o) => o.class === cls)!;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(2));
    store = await startRetentionStore();
    a = (await createTenant(prisma, { name: 'objects-a' })).id;
    b = (await createTenant(prisma, { name: 'objects-b' })).id;
    const s = store.storage;
    // Raw snapshots (TTL 30 days): 3 + 5 + 4 expired, 2 on the cutoff's own day (kept
    // until that day is wholly past), 60 live ones that a run must never list.
    seeded.held = await putObjects(s, a, 'snapshots/raw', 40, 3, 'held');
    seeded.d35 = await putObjects(s, a, 'snapshots/raw', 35, 5, 'old');
    seeded.d31 = await putObjects(s, a, 'snapshots/raw', 31, 4, 'old');
    seeded.cutoffDay = await putObjects(s, a, 'snapshots/raw', 30, 2, 'edge');
    seeded.live = [
      ...(await putObjects(s, a, 'snapshots/raw', 20, 30, 'live')),
      ...(await putObjects(s, a, 'snapshots/raw', 1, 30, 'live')),
    ];
    // Annotated (90 days) and reports (365 days, by month).
    seeded.annotated = await putObjects(s, a, 'snapshots/annotated', 100, 2, 'ann');
    seeded.reportsOld = await putObjects(s, a, 'reports', 400, 2, 'rep');
    seeded.reportsLive = await putObjects(s, a, 'reports', 340, 2, 'rep');
    // Not the layout's: left alone. Another tenant's expired objects: not this run's.
    seeded.stray = [`tenant/${a}/snapshots/raw/misc/x.jpg`, `tenant/${a}/snapshots/raw/2026-13-45/y.jpg`];
    for (const k of seeded.stray) await s.client.putObject(s.bucket, k, Buffer.from('s'));
    seeded.other = await putObjects(s, b, 'snapshots/raw', 40, 2, 'b');
  }),
);
test.after(cleanup([...databaseTeardown(() => ({ db, prisma })), ['stop store', () => store?.stop()]]));

test('a dry run reports count, oldest, newest and bytes per object class and what a prefix hold keeps, lists only the expired periods, deletes nothing', async () => {
  const hold = await addHold(
    prisma,
    { tenantId: a, scope: 'prefix', keyPrefix: `snapshots/raw/${day(40)}/`, reason: 'case 2026-41' },
    ADMIN,
  );
  const before = await listKeys(store.storage, `tenant/${a}/`);
  const listing = newListingStats();
  const out = await runTenantRetention(prisma, a, { dryRun: true, store: store.storage, listing, storeRetry: RETRY });
  const raw = byClass(out, 'objects:snapshots-raw');
  assert.is(raw.count, 9);
  assert.is(raw.bytes, 90);
  assert.is(raw.oldest!.toISOString(), `${day(35)}T00:00:00.000Z`);
  assert.is(raw.newest!.toISOString(), `${day(31)}T00:00:00.000Z`);
  assert.is(raw.held, 3);
  assert.equal(raw.holds, [{ id: hold.id, kept: 3 }]);
  assert.is(byClass(out, 'objects:snapshots-annotated').count, 2);
  assert.is(byClass(out, 'objects:reports').count, 2);
  // 9 + 3 held + 2 + 2, and the first live key of each class that has one (raw: the
  // cutoff's own day; reports: the live month), which ends its search. The other 63 live
  // objects, the stray keys and tenant b's were never listed.
  assert.is(listing.keysListed, 18);
  assert.equal(await listKeys(store.storage, `tenant/${a}/`), before, 'a dry run deletes nothing');
});

test('a real run deletes the expired objects in batches, keeps the held ones, and its receipt accounts for every key', async () => {
  const listing = newListingStats();
  let batches = 0;
  const out = await runTenantRetention(prisma, a, {
    store: store.storage,
    batchSize: 2,
    listing,
    storeRetry: RETRY,
    runId: 'objects-run-1',
    onDeleted: (cls, n) => {
      if (cls === 'objects:snapshots-raw') batches++;
      assert.ok(n <= 2, 'a batch holds at most batchSize keys');
    },
  });
  const raw = byClass(out, 'objects:snapshots-raw');
  assert.is(raw.deleted, 9);
  assert.is(raw.held, 3);
  assert.ok(raw.complete);
  assert.is(batches, 5, 'the 5 keys of one day and the 4 of the next, two at a time');
  const left = await listKeys(store.storage, `tenant/${a}/`);
  const expected = [
    ...seeded.held!,
    ...seeded.cutoffDay!,
    ...seeded.live!,
    ...seeded.reportsLive!,
    ...seeded.stray!,
  ].sort();
  assert.equal(left, expected);
  assert.equal(await listKeys(store.storage, `tenant/${b}/`), seeded.other, "another tenant's objects are not touched");

  const receipt = await prisma.retentionReceipt.findUniqueOrThrow({ where: { id: raw.receiptId! } });
  assert.is(receipt.status, 'done');
  assert.is(receipt.deleted, 9n);
  assert.is(receipt.bytes, 90n);
  assert.is(receipt.held, 3n);
  assert.is(receipt.error, null);
  assert.is(receipt.digest, foldDigest(EMPTY_DIGEST, [...seeded.d35!, ...seeded.d31!]));
  const entry = await prisma.auditLog.findFirstOrThrow({
    where: { tenantId: a, action: 'retention:purged', resourceId: receipt.id },
  });
  // A format-2 entry: its metadata is in audit_personal_data.
  const personal = await prisma.auditPersonalData.findUniqueOrThrow({
    where: { tenantId_seq: { tenantId: a, seq: entry.seq } },
  });
  assert.is(((entry.metadata ?? personal.metadata) as { deleted: number }).deleted, 9);
  // Every key listed was deleted or held (plus at most the checks after failed deletes).
  assert.ok(listing.keysListed <= 9 + 3 + 2 + 2 + 4, `keys listed: ${listing.keysListed}`);
});

test('released, the hold lets the next run delete what it kept', async () => {
  const [hold] = await prisma.legalHold.findMany({ where: { tenantId: a, releasedAt: null } });
  await releaseHold(prisma, hold!.id, 'case closed', ADMIN);
  const out = await runTenantRetention(prisma, a, { store: store.storage, storeRetry: RETRY });
  assert.is(byClass(out, 'objects:snapshots-raw').deleted, 3);
  assert.equal(
    (await listKeys(store.storage, `tenant/${a}/snapshots/raw/`)).filter((k) => seeded.held!.includes(k)),
    [],
  );
});

test('over a thousand expired keys in one day: paged listing, batches, live keys of the class never listed', async () => {
  const t = (await createTenant(prisma, { name: 'objects-many' })).id;
  const doomed = await putObjects(store.storage, t, 'snapshots/raw', 45, 1050, 'm');
  const live = await putObjects(store.storage, t, 'snapshots/raw', 2, 300, 'l');
  const listing = newListingStats();
  const out = await runTenantRetention(prisma, t, {
    store: store.storage,
    classes: ['objects:snapshots-raw'],
    batchSize: 400,
    listing,
    storeRetry: RETRY,
  });
  assert.is(out[0]!.deleted, 1050);
  assert.equal(await listKeys(store.storage, `tenant/${t}/`), live);
  const receipt = await prisma.retentionReceipt.findUniqueOrThrow({ where: { id: out[0]!.receiptId! } });
  assert.is(receipt.digest, foldDigest(EMPTY_DIGEST, doomed));
  assert.ok(listing.keysListed / 1050 <= 1.1, `keys listed per key deleted: ${listing.keysListed / 1050}`);
});

test('an unreachable store is retried, then stops only the object classes; the receipt says what was done and the next run finishes it', async () => {
  const c = (await createTenant(prisma, { name: 'objects-outage' })).id;
  const keys = await putObjects(store.storage, c, 'snapshots/raw', 50, 7, 'z');
  let cut = false;
  const out = await runTenantRetention(prisma, c, {
    store: store.storage,
    batchSize: 2,
    storeRetry: RETRY,
    runId: 'outage-run',
    onDeleted: (cls) => {
      if (cls === 'objects:snapshots-raw' && !cut) {
        cut = true;
        store.proxy.block();
      }
    },
  }).finally(() => store.proxy.unblock());
  const raw = byClass(out, 'objects:snapshots-raw');
  assert.is(raw.deleted, 2);
  assert.not.ok(raw.complete);
  // The batch's delete failed, and so did the check of which of its keys were left.
  assert.match(
    raw.error!,
    /object store at http:\/\/127\.0\.0\.1:\d+ \(S3_ENDPOINT\) failed to list \S+ after a failed delete/,
  );
  assert.match(raw.error!, '(2 tries)');
  for (const cls of ['objects:snapshots-annotated', 'objects:reports', 'objects:exports'])
    assert.ok(byClass(out, cls).error, cls);
  for (const cls of ['audit', 'alerts']) assert.is(byClass(out, cls).error, undefined, `${cls} went on`);
  const stopped = await prisma.retentionReceipt.findUniqueOrThrow({ where: { id: raw.receiptId! } });
  assert.is(stopped.status, 'running');
  assert.is(stopped.deleted, 2n);
  assert.match(stopped.error!, 'S3_ENDPOINT');
  assert.equal(
    (stopped.pending as Array<{ key: string }>).map((p) => p.key),
    keys.slice(2, 4),
  );

  const again = byClass(
    await runTenantRetention(prisma, c, { store: store.storage, batchSize: 2, storeRetry: RETRY }),
    'objects:snapshots-raw',
  );
  assert.ok(again.resumed);
  assert.is(again.receiptId, stopped.id, 'the same receipt, finished');
  assert.is(again.deleted, 5);
  const done = await prisma.retentionReceipt.findUniqueOrThrow({ where: { id: stopped.id } });
  assert.is(done.status, 'done');
  assert.is(done.deleted, 7n);
  assert.is(done.error, null);
  assert.is(done.digest, foldDigest(EMPTY_DIGEST, keys), 'every key once, in order');
  assert.equal(await listKeys(store.storage, `tenant/${c}/`), []);
});

test('the tenant job fails while the store is down (BullMQ retries it) and its retry resumes without redoing the finished classes', async () => {
  const d = (await createTenant(prisma, { name: 'objects-job' })).id;
  await putObjects(store.storage, d, 'snapshots/raw', 60, 3, 'j');
  const metrics = createMetrics();
  const deps = {
    prisma,
    logger: createLogger(loadConfig({ LOG_LEVEL: 'silent' })),
    metrics,
    clock: () => new Date(),
    store: store.storage,
    enqueueTenants: async () => undefined,
  };
  store.proxy.block();
  try {
    await processRetentionTenant({ v: 1, runId: 'job-run', tenantId: d }, deps);
    assert.unreachable('the job should fail');
  } catch (err) {
    assert.instance(err, StorageUnavailableError);
    assert.match((err as Error).message, 'objects:snapshots-raw');
  } finally {
    store.proxy.unblock();
  }
  const rowReceipts = await prisma.retentionReceipt.count({ where: { tenantId: d, runId: 'job-run', status: 'done' } });
  assert.is(rowReceipts, 5, 'the row classes finished on the first attempt');
  const result = await processRetentionTenant({ v: 1, runId: 'job-run', tenantId: d }, deps);
  assert.equal(
    result.map((r) => r.class),
    ['objects:snapshots-raw', 'objects:snapshots-annotated', 'objects:reports', 'objects:exports'],
    'the retry does only what was left',
  );
  assert.is(result[0]!.deleted, 3);
  assert.is(await prisma.retentionReceipt.count({ where: { tenantId: d, runId: 'job-run' } }), 9);
  assert.match(await metrics.registry.metrics(), 'bulwark_retention_deleted_total{class="objects:snapshots-raw"} 3');
});

test.run();
