// A master of the Redis Cluster fails over while audit entries are being written, from
// application code (the producer on a cluster connection) and over HTTP: once by a
// graceful CLUSTER FAILOVER on its replica, once by SIGKILL of the master. Every write
// acknowledged is stored, none twice, and the tenant's chain stays whole; writes not
// acknowledged were refused in the open (an error, a 503), and retried with the same
// eventId they are stored once. What the clients saw is printed for
// docs/redis-cluster.md; nothing here is asserted on timings.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { verifyTenantChain } from '../../../lib/audit/verify.js';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createRedis, type RedisClient } from '../../../lib/clients/redis.js';
import type { Config } from '../../../lib/config.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { chainStats, storedEventIds } from '../../helpers/audit-db.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startRedisCluster, type RedisClusterHandle } from '../../helpers/redis-cluster.js';

let cluster: RedisClusterHandle;
let db: TestDatabase;
let prisma: PrismaClient;
let config: Config;
let bulwark: RunningBulwark;
let appRedis: RedisClient;
let producer: Producer;
let tenant: { id: string; key: string };
const logs = captureLogs();

test.before(
  setup(async () => {
    cluster = await startRedisCluster();
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
    const t = await createTenant(prisma, { name: 'failover' });
    tenant = { id: t.id, key: t.adminKey.key };
    config = testConfig(db.url, { REDIS_CLUSTER_NODES: cluster.nodesEnv, LOG_LEVEL: 'warn' });
    bulwark = await startBulwark(config, { scheduler: false, logDestination: logs.stream });
    // Application code's own connection, built as docs/redis-cluster.md recommends.
    appRedis = createRedis(config, 'app');
    producer = createProducer({ connection: appRedis, queuePrefix: config.keyPrefix, coalesceWrites: false });
  }),
);

test.after(
  cleanup([
    ['close producer', () => producer?.close()],
    ['quit app redis', () => appRedis?.quit()],
    ['stop bulwark', () => bulwark?.stop()],
    ['stop cluster', () => cluster?.stop()],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

interface Seen {
  acknowledged: string[];
  /** Per kind of refusal, how many (an error message's first words, or an HTTP status). */
  refusals: Map<string, number>;
  /** The longest an acknowledged write took, ms (printed, not asserted). */
  slowestMs: number;
  /** HTTP answers other than 202, or 503 with Retry-After. */
  unexpected: string[];
}

const entry = (eventId: string) => ({
  tenantId: tenant.id,
  eventId,
  actorType: 'user' as const,
  actorId: 'u-1',
  action: 'task:completed',
  resourceType: 'task',
  resourceId: 't-1',
});

/**
 * `workers` loops writing one entry at a time until `stop()`: through the producer, or
 * POST /v1/audit. A refused write is tried again with the same eventId (what a client
 * should do) until it is acknowledged.
 */
function writeUntilStopped(via: 'producer' | 'http', workers: number) {
  const seen: Seen = { acknowledged: [], refusals: new Map(), slowestMs: 0, unexpected: [] };
  let stopping = false;
  const refuse = (kind: string) => seen.refusals.set(kind, (seen.refusals.get(kind) ?? 0) + 1);
  async function once(eventId: string): Promise<boolean> {
    const started = Date.now();
    try {
      if (via === 'producer') {
        await withTimeout(producer.audit.write(entry(eventId)), 90_000, 'a producer write');
      } else {
        const res = await withTimeout(
          fetch(`${bulwark.url}/v1/audit`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ ...entry(eventId), tenantId: undefined }),
          }),
          15_000,
          'an HTTP write to be answered',
        );
        const body = await res.text();
        if (res.status !== 202) {
          const answered = res.status === 503 && Number(res.headers.get('retry-after')) > 0;
          if (!answered) seen.unexpected.push(`${res.status} ${body}`);
          refuse(`HTTP ${res.status}`);
          return false;
        }
      }
      seen.slowestMs = Math.max(seen.slowestMs, Date.now() - started);
      return true;
    } catch (err) {
      refuse((err as Error).message.split(/[:.]/)[0]!.slice(0, 60));
      return false;
    }
  }
  const loops = Array.from({ length: workers }, async () => {
    while (!stopping) {
      const eventId = randomUUID();
      while (!(await once(eventId))) await new Promise((r) => setTimeout(r, 100));
      seen.acknowledged.push(eventId);
    }
  });
  return {
    seen,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return seen;
    },
  };
}

/** Every acknowledged eventId stored once, no row twice, seqs 1..n, the chain verified. */
async function assertStoredOnce(acknowledged: string[]): Promise<void> {
  const want = new Set(acknowledged);
  await waitFor(
    async () => {
      const stored = new Set(await storedEventIds(db.url, tenant.id));
      return [...want].every((id) => stored.has(id));
    },
    'every acknowledged write to be stored',
    60_000,
    200,
  );
  const stats = await chainStats(db.url, tenant.id);
  assert.is(stats.rows, stats.distinctEvents, 'no entry stored twice');
  assert.is(stats.distinctSeqs, stats.rows);
  assert.is(stats.minSeq, 1);
  assert.is(stats.maxSeq, stats.rows, 'seqs 1..n, no gap');
  const chain = await verifyTenantChain(prisma, tenant.id);
  assert.ok(chain.ok, JSON.stringify(chain));
}

async function duringFailover(what: string, failover: () => Promise<void>): Promise<void> {
  const producerWrites = writeUntilStopped('producer', 8);
  const httpWrites = writeUntilStopped('http', 4);
  await waitFor(async () => producerWrites.seen.acknowledged.length >= 50, 'writes before the failover');
  const started = Date.now();
  await failover();
  const tookMs = Date.now() - started;
  const before = producerWrites.seen.acknowledged.length;
  await waitFor(
    async () => producerWrites.seen.acknowledged.length >= before + 50,
    'writes after the failover',
    60_000,
  );
  const [p, h] = [await producerWrites.stop(), await httpWrites.stop()];
  console.log(
    `${what}: failover took ${tookMs} ms; producer ${p.acknowledged.length} acknowledged, refusals ${JSON.stringify(
      Object.fromEntries(p.refusals),
    )}, slowest ${p.slowestMs} ms; HTTP ${h.acknowledged.length} acknowledged, refusals ${JSON.stringify(
      Object.fromEntries(h.refusals),
    )}, slowest ${h.slowestMs} ms`,
  );
  assert.ok(h.acknowledged.length > 0);
  if (h.unexpected.length > 0)
    console.error(
      logs.lines.filter((l) => h.unexpected.some((u) => l.includes(/request id (\S+)"/.exec(u)?.[1] ?? '-'))),
    );
  assert.equal(h.unexpected, [], 'HTTP answers other than 202 or 503 + Retry-After');
  await assertStoredOnce([...p.acknowledged, ...h.acknowledged]);
}

test('graceful failover (CLUSTER FAILOVER on the replica) during writes: nothing acknowledged lost or stored twice', async () => {
  const master = await cluster.masterOf(`${config.queuePrefix}:x`);
  const replica = await cluster.replicaOf(master);
  await duringFailover('CLUSTER FAILOVER', () => cluster.failover(replica));
  assert.is(await cluster.masterOf(`${config.queuePrefix}:x`), replica, 'the replica serves the queues now');
});

test('the master killed (SIGKILL) during writes: its replica takes over; nothing acknowledged lost or stored twice', async () => {
  const master = await cluster.masterOf(`${config.queuePrefix}:x`);
  const replica = await cluster.replicaOf(master);
  await duringFailover('SIGKILL of the master', async () => {
    await cluster.kill(master);
    await cluster.promotedFrom(master);
  });
  assert.is(await cluster.masterOf(`${config.queuePrefix}:x`), replica);
  const ready = await fetch(`${bulwark.url}/readyz`);
  assert.is(ready.status, 200, await ready.text());
});

test.run();
