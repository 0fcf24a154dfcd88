// Nothing parked is lost when processes die (docs/decisions/0010): a producer SIGKILLed
// part way through a backlog it is parking and dispatching, a worker SIGKILLed while it
// works through it, and a dispatcher that claimed jobs and died before adding them
// (the script called alone). A fresh worker then stores every entry whose write had
// resolved, each once, chains intact, and nothing stays parked or claimed.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { AUDIT_WRITE_QUEUE, auditWriteQueue } from '../../../lib/contracts/audit.js';
import { fairKindOf } from '../../../lib/fair/kinds.js';
import { fairScript } from '../../../lib/fair/script.js';
import { readFairStats } from '../../../lib/fair/status.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, randomPrefix, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { killWorker, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const CHILD = fileURLToPath(new URL('../../helpers/fair-producer-child.ts', import.meta.url));
const prefix = randomPrefix('fair-kill');
let db: TestDatabase;
let prisma: PrismaClient;
let redis: Redis;
let tenant: string;
const workers: WorkerProcess[] = [];
// A window of 50 entries: most of the backlog is parked.
const env = () => workerEnv(db.url, prefix, { FAIR_AUDIT_WINDOW: '50', FAIR_TICK_MS: '100' });

test.before(
  setup(async () => {
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    tenant = (await createTenant(prisma, { name: 'fair-kill' })).id;
  }),
);

test.after(
  cleanup([
    ['kill workers', () => Promise.all(workers.map(killWorker))],
    ['quit redis', () => redis?.quit()],
    ['obliterate queues', () => obliterateQueues(prefix)],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

const stored = async () =>
  (
    await superuserQuery(
      db.url,
      `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM audit_log WHERE tenant_id = $1 AND event_id LIKE 'p-%'`,
      [tenant],
    )
  ).rows[0] as { n: number; d: number };

test('producer and worker SIGKILLed mid-backlog, a dispatcher dead after its claim: every acknowledged entry stored once', async () => {
  workers.push(await spawnWorker(env()));
  // The producer: killed once 40 of its 200 writes have resolved.
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, REDIS_URL, QUEUE_PREFIX: prefix, FAIR_CHILD_TENANT: tenant, FAIR_CHILD_JOBS: '200' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked = new Set<number>();
  const exited = new Promise((resolve) => child.once('close', resolve));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = /^ok (\d+)$/.exec(line);
    if (m) acked.add(Number(m[1]));
    if (acked.size === 40) child.kill('SIGKILL');
  });
  await exited;
  assert.ok(acked.size >= 40 && acked.size < 200, `${acked.size} writes acknowledged`);
  // The worker: killed once some of the backlog is committed.
  await waitFor(async () => (await stored()).n >= 50, 'some entries committed');
  await killWorker(workers.pop());
  // A dispatcher that claims and dies before adding (the script alone: claim, no add, no ack).
  const script = fairScript(redis, prefix, fairKindOf(auditWriteQueue)!);
  await script.finish(Object.keys(await redis.hgetall(script.keys[5]!)));
  const claimed = await script.dispatch();
  assert.ok(claimed.length > 0, 'the dead dispatcher held a claim');
  // A fresh worker: stalled jobs come back after their lock, the claim after CLAIM_STALE_MS.
  workers.push(await spawnWorker(env()));
  const want = acked.size * 10;
  await waitFor(
    async () => {
      const s = await stored();
      const stats = (await readFairStats(redis, prefix, [auditWriteQueue])).find(
        (x) => x.queue === AUDIT_WRITE_QUEUE,
      )!.stats;
      const left = await redis.zcard(script.keys[10]!);
      return s.n >= want && stats.parkedJobs === 0 && left === 0;
    },
    'every acknowledged entry committed, nothing parked or claimed',
    90_000,
    200,
  );
  const s = await stored();
  assert.is(s.n, s.d, 'no entry stored twice');
  const ids = (
    await superuserQuery(db.url, `SELECT event_id FROM audit_log WHERE tenant_id = $1 AND event_id LIKE 'p-%'`, [
      tenant,
    ])
  ).rows.map((r: { event_id: string }) => r.event_id);
  const have = new Set(ids);
  const missing = [...acked]
    .flatMap((j) => Array.from({ length: 10 }, (_x, k) => `p-${j}-${k}`))
    .filter((id) => !have.has(id));
  assert.equal(missing, [], 'every acknowledged entry is stored');
  const report = await verifyChains(prisma);
  assert.ok(report.ok, JSON.stringify(report.tenants.filter((t) => !t.ok)));
});

test.run();
