// A worker process SIGKILLed in the middle of an object class's purge, between a batch's
// `pending` record and its delete, then a fresh worker: the stalled tenant job is taken
// up again, the pending batch is deleted first, the rest after it; every expired unheld
// object reaches the store in exactly one delete, nothing live or held is touched, and
// the one receipt is finished with a count, bytes and digest that match the keys.
//
// The kill lands deterministically: the store sits behind a TCP proxy that holds the
// third multi-object delete (its connection frozen, nothing forwarded). The batch's keys
// are written to the receipt before the delete is sent, so once the proxy holds it the
// worker is exactly between the two; it is killed there, and the held request dropped.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { RETENTION_QUEUE, retentionRunJob, retentionTenantJobId } from '../../../lib/contracts/retention.js';
import { EMPTY_DIGEST, foldDigest } from '../../../lib/retention/digest.js';
import { addHold } from '../../../lib/retention/holds.js';
import { periodOf } from '../../../lib/storage/keys.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, randomPrefix, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { DAY_MS } from '../../helpers/retention.js';
import { listKeys, putObjects, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';
import { killWorker, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

let db: TestDatabase;
let prisma: PrismaClient;
let store: RetentionStore;
let redis: Redis;
let queue: Queue;
const prefix = randomPrefix('ret-kill');
const workers: WorkerProcess[] = [];
const CLASS = 'objects:snapshots-raw';
// Twelve hours away: the daily run must not start during the test.
const CRON = `30 ${(new Date().getUTCHours() + 12) % 24} * * *`;
const BATCH = 10;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma(2));
    store = await startRetentionStore();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue(RETENTION_QUEUE, { connection: redis, prefix });
  }),
);
test.after(
  cleanup([
    ['kill workers', () => Promise.all(workers.map(killWorker))],
    ['close queue', () => queue?.close()],
    ['quit redis', () => redis?.quit()],
    ['obliterate queues', () => obliterateQueues(prefix)],
    ...databaseTeardown(() => ({ db, prisma })),
    ['stop store', () => store?.stop()],
  ]),
);

/** The keys of each multi-object delete that reached the store, in order. */
const sentBatches = (requests: string[]) =>
  requests.map((r) => [...r.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!));
/**
 * The keys deleted, each batch once: a batch sent again at once, whole, is the one resend
 * removeBatch makes when the store answers 500 (s3rver does to a delete that empties a
 * day's folder, after deleting it; lib/retention/object-store.ts).
 */
const sentKeys = (requests: string[]) =>
  sentBatches(requests)
    .filter((b, i, all) => i === 0 || b.join() !== all[i - 1]!.join())
    .flat();

test('SIGKILL between a batch of object keys written as pending and their delete: a fresh worker finishes, each expired key deleted once, the receipt whole', async () => {
  const tenant = (await createTenant(prisma, { name: 'objects-killed' })).id;
  const s = store.storage;
  // Raw snapshots (TTL 30 days): 50 expired over two days, 5 expired but held, 6 live.
  const held = await putObjects(s, tenant, 'snapshots/raw', 45, 5, 'held');
  const expired = [
    ...(await putObjects(s, tenant, 'snapshots/raw', 40, 25, 'old')),
    ...(await putObjects(s, tenant, 'snapshots/raw', 35, 25, 'old')),
  ].sort();
  const live = await putObjects(s, tenant, 'snapshots/raw', 2, 6, 'live');
  const day45 = periodOf('snapshots/raw', new Date(Date.now() - 45 * DAY_MS));
  const hold = await addHold(
    prisma,
    { tenantId: tenant, scope: 'prefix', keyPrefix: `snapshots/raw/${day45}/`, reason: 'case 2026-77' },
    { type: 'user', id: 'compliance' },
  );

  // The store sees the deletes; the third is held, its connection frozen.
  const reached: string[] = [];
  const heldRequests: string[] = [];
  let deletes = 0;
  store.proxy.setFilter((chunk) => {
    const text = chunk.toString('latin1');
    if (/^POST [^ ]*\?delete/.test(text)) deletes++;
    if (deletes === 3 && heldRequests.length === 0 && /^POST [^ ]*\?delete/.test(text)) {
      heldRequests.push(text);
      return 'hold';
    }
    if (text.includes('<Delete')) reached.push(text);
    return 'pass';
  });

  const env = workerEnv(db.url, prefix, { ...store.env, RETENTION_CRON: CRON, RETENTION_BATCH_SIZE: String(BATCH) });
  workers.push(await spawnWorker(env));
  await queue.add(retentionRunJob.name, { v: 1, runId: 'killed-objects', tenantId: tenant }, retentionRunJob.opts);
  const mid = await waitFor(
    async () => {
      if (store.proxy.held() === 0) return undefined;
      const r = await prisma.retentionReceipt.findFirst({ where: { tenantId: tenant, class: CLASS } });
      return r?.pending ? r : undefined;
    },
    'the third delete held with its keys pending',
    90_000,
  );
  await killWorker(workers[0]);
  store.proxy.dropHeld();
  assert.is((await workers[0]!.exited).signal, 'SIGKILL');

  // Killed between the two: two batches deleted and counted, the third pending and still in the store.
  const pending = (mid.pending as Array<{ key: string }>).map((p) => p.key);
  assert.is(mid.status, 'running');
  assert.is(mid.deleted, BigInt(2 * BATCH));
  // A batch never spans two days: the first day's 25 keys go as 10, 10 and 5.
  assert.equal(pending, expired.slice(2 * BATCH, 25));
  assert.equal(sentKeys(reached), expired.slice(0, 2 * BATCH), 'two deletes reached the store');
  const afterKill = await listKeys(s, `tenant/${tenant}/`);
  for (const k of pending)
    assert.ok(afterKill.includes(k), `${k} was deleted though its delete never reached the store`);
  assert.equal(afterKill, [...held, ...expired.slice(2 * BATCH), ...live].sort());

  // A fresh worker takes the stalled tenant job up again and finishes the same receipt.
  workers.push(await spawnWorker(env));
  const jobId = retentionTenantJobId('killed-objects', tenant);
  await waitFor(
    async () => {
      const j = await queue.getJob(jobId);
      if (j && (await j.isFailed())) throw new Error(`the tenant job failed: ${j.failedReason}`);
      return j && (await j.isCompleted());
    },
    'the tenant job completed by the second worker',
    90_000,
  );

  assert.equal(await listKeys(s, `tenant/${tenant}/`), [...held, ...live].sort(), 'expired gone; held and live kept');
  const sent = sentKeys(reached);
  assert.equal(
    sent,
    expired,
    'every expired unheld key reached the store in exactly one batch, in key order: the pending batch first, then the rest',
  );
  const touched = new Set(sentBatches(reached).flat());
  for (const k of [...held, ...live]) assert.not.ok(touched.has(k), `${k} was sent in a delete`);

  const receipts = await prisma.retentionReceipt.findMany({ where: { tenantId: tenant, class: CLASS } });
  assert.is(receipts.length, 1, 'one receipt for the class');
  const r = receipts[0]!;
  assert.is(r.id, mid.id);
  assert.is(r.status, 'done');
  assert.is(r.runId, 'killed-objects');
  assert.is(r.deleted, BigInt(expired.length));
  assert.is(r.bytes, BigInt(expired.length * 10));
  assert.is(r.digest, foldDigest(EMPTY_DIGEST, expired), 'the digest covers each expired key once, in order');
  assert.is(r.held, 5n);
  assert.equal(r.holds, [{ id: hold.id, kept: 5 }]);
  assert.is(r.pending, null);
  assert.is(r.error, null);
  const entries = (
    await superuserQuery(
      db.url,
      `SELECT metadata FROM audit_entries WHERE tenant_id = $1 AND action = 'retention:purged' AND resource_id = $2`,
      [tenant, r.id],
    )
  ).rows;
  assert.is(entries.length, 1);
  const meta = entries[0].metadata as Record<string, unknown>;
  assert.is(meta.deleted, expired.length);
  assert.is(meta.digest, r.digest);
  assert.is(meta.complete, true);
});

test.run();
