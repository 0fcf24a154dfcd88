// The per-class time bound (RETENTION_MAX_MS_PER_CLASS): a class over it stops at a
// batch boundary, its receipt finished with what it deleted and `complete: false` in its
// `retention:purged` entry, the rest still there and expired; the next run takes the
// rest, nothing is deleted twice, and the two receipts' counts and digests add up to
// exactly the expired data. The bound is set to 0 (stop after the first batch), so what
// the first run does is fixed, not a race against the clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { loadConfig } from '../../../lib/config.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { EMPTY_DIGEST, foldDigest } from '../../../lib/retention/digest.js';
import { runTenantRetention, type ClassOutcome } from '../../../lib/retention/run.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { daysAgo, entryAt, seedEntries } from '../../helpers/retention.js';
import { listKeys, putObjects, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let db: TestDatabase;
let prisma: PrismaClient;
let store: RetentionStore;
const RETRY = { tries: 2, pauseMs: 20 };
const byClass = (out: ClassOutcome[], cls: string) => out.find((o) => o.class === cls)!;
const q = async (sql: string, params: unknown[] = []) => (await superuserQuery(db.url, sql, params)).rows;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(2));
    store = await startRetentionStore();
  }),
);
test.after(cleanup([...databaseTeardown(() => ({ db, prisma })), ['stop store', () => store?.stop()]]));

test('RETENTION_MAX_MS_PER_CLASS and RETENTION_BATCH_SIZE are validated, named when wrong; defaults 60 s and none', () => {
  assert.is(loadConfig({}).retentionMaxMsPerClass, 60_000);
  assert.is(loadConfig({}).retentionBatchSize, undefined);
  assert.is(loadConfig({ RETENTION_MAX_MS_PER_CLASS: '0' }).retentionMaxMsPerClass, 0);
  assert.throws(() => loadConfig({ RETENTION_MAX_MS_PER_CLASS: '-1' }), /RETENTION_MAX_MS_PER_CLASS/);
  assert.throws(() => loadConfig({ RETENTION_MAX_MS_PER_CLASS: 'soon' }), /RETENTION_MAX_MS_PER_CLASS/);
  assert.throws(() => loadConfig({ RETENTION_BATCH_SIZE: '0' }), /RETENTION_BATCH_SIZE/);
});

test('a class over its time bound stops at a batch boundary, its receipt says incomplete; the next run finishes the rest, nothing twice', async () => {
  const config = loadConfig({ RETENTION_MAX_MS_PER_CLASS: '0', RETENTION_BATCH_SIZE: '10' });
  const tenant = (await createTenant(prisma, { name: 'time-bound' })).id;
  await seedEntries(prisma, 35, (i) => entryAt(tenant, daysAgo(120), { eventId: `old-${i}` }));
  await seedEntries(prisma, 5, (i) => entryAt(tenant, daysAgo(1), { eventId: `young-${i}` }));
  const expired = [
    ...(await putObjects(store.storage, tenant, 'snapshots/raw', 40, 15, 'a')),
    ...(await putObjects(store.storage, tenant, 'snapshots/raw', 35, 12, 'b')),
  ].sort();
  const live = await putObjects(store.storage, tenant, 'snapshots/raw', 2, 4, 'live');
  const classes = ['audit', 'objects:snapshots-raw'] as const;
  const opts = {
    classes,
    store: store.storage,
    storeRetry: RETRY,
    batchSize: config.retentionBatchSize,
    maxMsPerClass: config.retentionMaxMsPerClass,
  };

  const first = await runTenantRetention(prisma, tenant, { ...opts, runId: 'bounded-1' });
  for (const cls of classes) {
    const o = byClass(first, cls);
    assert.is(o.complete, false, `${cls} stopped by its bound`);
    assert.is(o.deleted, 10, `${cls} stopped at the first batch boundary`);
    assert.is(o.count, 10);
  }
  // What the bound left is still there and still expired; the receipts are finished and say so.
  const [old] = await q(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND event_id LIKE 'old-%'`, [
    tenant,
  ]);
  assert.is(old.n, 25);
  assert.equal(await listKeys(store.storage, `tenant/${tenant}/`), [...expired.slice(10), ...live].sort());
  const entries = await q(
    `SELECT metadata FROM audit_entries WHERE tenant_id = $1 AND action = 'retention:purged' ORDER BY seq`,
    [tenant],
  );
  assert.equal(
    entries.map((e) => [e.metadata.class, e.metadata.runId, e.metadata.deleted, e.metadata.complete]).sort(),
    [
      ['audit', 'bounded-1', 10, false],
      ['objects:snapshots-raw', 'bounded-1', 10, false],
    ],
  );
  const objDigest1 = foldDigest(EMPTY_DIGEST, expired.slice(0, 10));
  const bounded = await prisma.retentionReceipt.findUniqueOrThrow({
    where: { id: byClass(first, 'objects:snapshots-raw').receiptId! },
  });
  assert.is(bounded.digest, objDigest1, 'the receipt accounts for the first ten keys in key order');
  assert.is(bounded.pending, null, 'no batch in flight left behind');

  // The next run (no bound to speak of) takes the rest.
  const second = await runTenantRetention(prisma, tenant, { ...opts, maxMsPerClass: 60_000, runId: 'bounded-2' });
  for (const cls of classes) {
    const o = byClass(second, cls);
    assert.is(o.complete, true, cls);
    assert.not.ok(o.resumed, 'the bounded receipt was finished, not left running');
  }
  assert.is(byClass(second, 'audit').deleted, 25);
  assert.is(byClass(second, 'objects:snapshots-raw').deleted, expired.length - 10);
  assert.equal(await listKeys(store.storage, `tenant/${tenant}/`), live, 'every expired key gone, every live one kept');
  const [left] = await q(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND event_id LIKE 'old-%'`, [
    tenant,
  ]);
  assert.is(left.n, 0);
  const [young] = await q(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND event_id LIKE 'young-%'`, [
    tenant,
  ]);
  assert.is(young.n, 5);

  const receipts = await q(
    `SELECT class, run_id, status, deleted::int AS n, digest, first_seq, last_seq FROM retention_receipts
      WHERE tenant_id = $1 ORDER BY class, started_at`,
    [tenant],
  );
  assert.equal(
    receipts.map((r) => [r.class, r.run_id, r.status, r.n]),
    [
      ['audit', 'bounded-1', 'done', 10],
      ['audit', 'bounded-2', 'done', 25],
      ['objects:snapshots-raw', 'bounded-1', 'done', 10],
      ['objects:snapshots-raw', 'bounded-2', 'done', expired.length - 10],
    ],
  );
  // Objects: the two digests cover the expired keys in two disjoint runs, in key order.
  assert.is(receipts[2].digest, objDigest1);
  assert.is(receipts[3].digest, foldDigest(EMPTY_DIGEST, expired.slice(10)));
  // Audit: the two receipts' seq ranges are disjoint and cover the 35 expired entries.
  assert.ok(BigInt(receipts[0].last_seq) < BigInt(receipts[1].first_seq), JSON.stringify(receipts));
  assert.is(Number(BigInt(receipts[1].last_seq) - BigInt(receipts[0].first_seq)) + 1, 35);
  const [gaps] = await q(`SELECT sum(entries)::int AS n FROM audit_chain_gaps WHERE tenant_id = $1`, [tenant]);
  assert.is(gaps.n, 35);
  const report = await verifyChains(prisma, { tenantId: tenant });
  assert.ok(report.ok, JSON.stringify(report));
});

test.run();
