// Bulwark on a Sentinel-watched Redis (a master, a replica, three sentinels, started
// here): it finds the master through the sentinels, and when the master is killed
// (SIGKILL) during writes the sentinels promote the replica and Bulwark follows it.
// Every write acknowledged is stored once and the chain stays whole. What the clients
// saw is printed for docs/redis-cluster.md#redis-sentinel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createRedis, type RedisClient } from '../../../lib/clients/redis.js';
import type { Config } from '../../../lib/config.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { duringFailover, type FailoverWrites } from '../../helpers/failover-writes.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { SENTINEL_MASTER, startRedisSentinel, type RedisSentinelHandle } from '../../helpers/redis-sentinel.js';

let sentinel: RedisSentinelHandle;
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
    sentinel = await startRedisSentinel();
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
    const t = await createTenant(prisma, { name: 'sentinel' });
    tenant = { id: t.id, key: t.adminKey.key };
    // REDIS_URL's host is not used with Sentinel: a port nothing listens on proves it.
    config = testConfig(db.url, {
      REDIS_URL: 'redis://127.0.0.1:1',
      REDIS_SENTINELS: sentinel.sentinelsEnv,
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
      LOG_LEVEL: 'warn',
    });
    bulwark = await startBulwark(config, { scheduler: false, logDestination: logs.stream });
    appRedis = createRedis(config, 'app');
    producer = createProducer({ connection: appRedis, queuePrefix: config.queuePrefix, coalesceWrites: false });
  }),
);

test.after(
  cleanup([
    ['close producer', () => producer?.close()],
    ['quit app redis', () => appRedis?.quit()],
    ['stop bulwark', () => bulwark?.stop()],
    ['stop sentinel', () => sentinel?.stop()],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

test('Bulwark finds the master through the sentinels; the key names are the single-server ones', async () => {
  const ready = await fetch(`${bulwark.url}/readyz`);
  assert.is(ready.status, 200, await ready.text());
  assert.is(config.queuePrefix, config.keyPrefix);
  const keys = await sentinel.admin(sentinel.masterPort, (r) => r.keys(`${config.queuePrefix}:*`));
  assert.ok(keys.length > 0, 'the queues are on the master the sentinels named');
});

test('the master killed (SIGKILL) during writes: the sentinels promote the replica; nothing acknowledged lost or stored twice', async () => {
  const writes: FailoverWrites = { db, prisma, bulwark, producer, tenant, logLines: logs.lines };
  await duringFailover(writes, 'Sentinel, SIGKILL of the master', async () => {
    await sentinel.kill(sentinel.masterPort);
    await waitFor(
      async () => (await sentinel.currentMaster()) === sentinel.replicaPort,
      'the sentinels to promote the replica',
      30_000,
      100,
    );
  });
  const ready = await fetch(`${bulwark.url}/readyz`);
  assert.is(ready.status, 200, await ready.text());
});

test.run();
