// A master of the Redis Cluster fails over while audit entries are being written, from
// application code (the producer on a cluster connection) and over HTTP: once by a
// graceful CLUSTER FAILOVER on its replica, once by SIGKILL of the master. Every write
// acknowledged is stored, none twice, and the tenant's chain stays whole; writes not
// acknowledged were refused in the open (an error, a 503), and retried with the same
// eventId they are stored once. What the clients saw is printed for
// docs/redis-cluster.md; nothing here is asserted on timings.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createRedis, type RedisClient } from '../../../lib/clients/redis.js';
import type { Config } from '../../../lib/config.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig } from '../../helpers/env.js';
import { duringFailover, type FailoverWrites } from '../../helpers/failover-writes.js';
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

const writes = (): FailoverWrites => ({ db, prisma, bulwark, producer, tenant, logLines: logs.lines });

test('graceful failover (CLUSTER FAILOVER on the replica) during writes: nothing acknowledged lost or stored twice', async () => {
  const master = await cluster.masterOf(`${config.queuePrefix}:x`);
  const replica = await cluster.replicaOf(master);
  await duringFailover(writes(), 'CLUSTER FAILOVER', () => cluster.failover(replica));
  assert.is(await cluster.masterOf(`${config.queuePrefix}:x`), replica, 'the replica serves the queues now');
});

test('the master killed (SIGKILL) during writes: its replica takes over; nothing acknowledged lost or stored twice', async () => {
  const master = await cluster.masterOf(`${config.queuePrefix}:x`);
  const replica = await cluster.replicaOf(master);
  await duringFailover(writes(), 'SIGKILL of the master', async () => {
    await cluster.kill(master);
    await cluster.promotedFrom(master);
  });
  assert.is(await cluster.masterOf(`${config.queuePrefix}:x`), replica);
  const ready = await fetch(`${bulwark.url}/readyz`);
  assert.is(ready.status, 200, await ready.text());
});

test.run();
