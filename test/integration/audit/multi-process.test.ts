// Two worker processes consume the same audit-write queue and write the same tenant's
// chain at once: every entry lands exactly once, seq is 1..N without gaps, the chains
// verify, and both processes did part of the work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { assertExactChain, countRows, storedEventIds } from '../../helpers/audit-db.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, randomPrefix, waitFor, withTimeout } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { killWorker, scrapeMetric, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const prefix = randomPrefix('multi');
let db: TestDatabase;
let prisma: PrismaClient;
let producer: Producer;
let workers: WorkerProcess[] = [];
let tenantA: string;
let tenantB: string;
let baseline: { rows: number; a: string[]; b: string[] };

test.before(
  setup(async () => {
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
    tenantA = (await createTenant(prisma, { name: 'multi-a' })).id;
    tenantB = (await createTenant(prisma, { name: 'multi-b' })).id;
    // Creating a tenant may itself write audit entries (e.g. its bootstrap record).
    baseline = { rows: await countRows(db.url), a: await storedEventIds(db.url, tenantA), b: await storedEventIds(db.url, tenantB) };
    // One job per write: coalesced, the 1,800 writes of the loop below would be a few
    // large jobs, and on a loaded machine the first worker to wake could take them all.
    producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: prefix, coalesceWrites: false });
    const env = workerEnv(db.url, prefix);
    workers = await Promise.all([spawnWorker(env), spawnWorker(env)]);
  }),
);

test.after(
  cleanup([
    ['stop workers', () => Promise.all(workers.map((w) => (w.kill('SIGTERM'), withTimeout(w.exited, 20_000, 'exit').catch(() => killWorker(w)))))],
    ['close producer', () => producer?.close()],
    ['obliterate queues', () => obliterateQueues(prefix)],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

test('two processes writing one tenant concurrently keep every chain exact and valid', async () => {
  const idsA: string[] = [...baseline.a];
  const idsB: string[] = [...baseline.b];
  const enqueues: Array<Promise<void>> = [];
  // Tenant A: 1500 single-entry jobs and 15 jobs of 100 entries (3000); tenant B: 500.
  for (let i = 0; i < 1500; i++) {
    enqueues.push(producer.audit.write(entry(tenantA)).then((r) => void idsA.push(r.eventId)));
    if (i % 5 === 0) enqueues.push(producer.audit.write(entry(tenantB)).then((r) => void idsB.push(r.eventId)));
    if (i % 100 === 0) {
      const batch = Array.from({ length: 100 }, () => entry(tenantA));
      enqueues.push(producer.audit.writeMany(batch).then((r) => void idsA.push(...r.eventIds)));
    }
    if (i === 500 || i === 1000) {
      const batch = Array.from({ length: 100 }, () => entry(tenantB));
      enqueues.push(producer.audit.writeMany(batch).then((r) => void idsB.push(...r.eventIds)));
    }
  }
  await withTimeout(Promise.all(enqueues), 60_000, 'enqueueing');
  assert.is(idsA.length - baseline.a.length, 3000);
  assert.is(idsB.length - baseline.b.length, 500);

  const total = 3500;
  await waitFor(async () => (await countRows(db.url)) >= baseline.rows + total, `${total} new rows`, 120_000, 100);

  await assertExactChain(db.url, tenantA, idsA);
  await assertExactChain(db.url, tenantB, idsB);
  const report = await withTimeout(verifyChains(prisma), 60_000, 'verifyChains');
  assert.ok(report.ok, JSON.stringify(report.tenants.filter((t) => !t.ok)));
  const entriesOf = (id: string) => report.tenants.find((t) => t.tenantId === id)?.entries;
  assert.equal([entriesOf(tenantA), entriesOf(tenantB)], [idsA.length, idsB.length]);

  // Both processes took part, and together wrote each entry exactly once.
  const written = await Promise.all(workers.map((w) => withTimeout(scrapeMetric(w.url, 'bulwark_audit_entries_written_total'), 10_000, 'scrape')));
  for (const [i, n] of written.entries()) assert.ok(n > 0, `worker ${i} wrote nothing: ${JSON.stringify(written)}`);
  assert.is(written[0]! + written[1]!, total, `entries written per process: ${JSON.stringify(written)}`);
});

test('workers exit 0 on SIGTERM once idle', async () => {
  for (const w of workers) w.kill('SIGTERM');
  const exits = await withTimeout(Promise.all(workers.map((w) => w.exited)), 30_000, 'workers exiting');
  assert.equal(exits, [{ code: 0, signal: null }, { code: 0, signal: null }], workers.map((w) => w.stderr()).join('\n'));
});

test.run();
