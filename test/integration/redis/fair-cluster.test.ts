// Fair dispatch on a Redis Cluster of the test's own (three masters, a replica each):
// every fair.lua operation, the producer's admit-or-park and its MULTI parking an audit
// job with its security alert, the release into BullMQ, and every key they leave sits
// in the slot of the queues (the queue prefix's hash tag, decision 0007): no CROSSSLOT.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from 'ioredis';
import { Queue } from 'bullmq';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { queuesOf } from '../../../app/workers.js';
import { fairKeys, fairKindsOf } from '../../../lib/fair/kinds.js';
import { readFairStats } from '../../../lib/fair/status.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { registry } from '../../../workers/registry.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startRedisCluster, type RedisClusterHandle } from '../../helpers/redis-cluster.js';

let cluster: RedisClusterHandle;
let connection: Cluster;
let producer: Producer;
const prefix = `fair-${randomUUID().slice(0, 8)}`;
const tagged = `{${prefix}}`;
const tenant = randomUUID();

test.before(
  setup(async () => {
    cluster = await startRedisCluster();
    connection = new Cluster(
      cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { maxRetriesPerRequest: null } },
    );
    producer = createProducer({ connection, queuePrefix: prefix });
  }),
);

test.after(
  cleanup([
    ['close producer', () => producer?.close()],
    ['quit cluster client', () => connection?.quit()],
    ['stop cluster', () => cluster?.stop()],
  ]),
);

test('the fair keys of every queue hash to the slot of the queues', async () => {
  const slotOf = (key: string) => cluster.admin(cluster.nodes[0]!.port, (r) => r.cluster('KEYSLOT', key));
  const queueSlot = await slotOf(`${tagged}:${AUDIT_WRITE_QUEUE}:wait`);
  for (const { queue } of fairKindsOf(queuesOf(registry)))
    for (const key of fairKeys(tagged, queue)) assert.is(await slotOf(key), queueSlot, key);
});

test('admit, park, release, the security MULTI and stats all run on the cluster; keys only in the queue slot', async () => {
  // A backlog past the window (16,000 entries by default): some jobs are parked.
  for (let j = 0; j < 20; j++)
    await producer.audit.writeMany(Array.from({ length: 1000 }, () => entry(tenant, { metadata: null })));
  await producer.audit.write(entry(tenant, { action: 'security:auth-failed', severity: 'critical' }));
  await producer.alert.send({ tenantId: tenant, type: 'disk.full', severity: 'high', title: 'Disk' });
  const stats = await readFairStats(connection, tagged, queuesOf(registry));
  const audit = stats.find((s) => s.queue === AUDIT_WRITE_QUEUE)!.stats;
  assert.ok(audit.parkedJobs > 0, JSON.stringify(audit));
  assert.is(audit.tenantsWaiting, 1);
  const audits = new Queue(AUDIT_WRITE_QUEUE, { connection, prefix: tagged });
  const alerts = new Queue(ALERT_QUEUE, { connection, prefix: tagged });
  try {
    assert.ok((await audits.getJobCountByTypes('waiting', 'prioritized')) >= 8);
    assert.is(await alerts.getJobCountByTypes('waiting', 'prioritized'), 2, 'the security alert and the sent one');
  } finally {
    await audits.close();
    await alerts.close();
  }
  const queueMaster = await cluster.masterOf(`${tagged}:x`);
  const keys: Array<{ key: string; port: number }> = [];
  for (const { port } of cluster.nodes) {
    const role = await cluster.admin(port, (r) => r.role());
    if (role[0] !== 'master') continue;
    for (const key of await cluster.admin(port, (r) => r.keys('*'))) keys.push({ key, port });
  }
  assert.ok(
    keys.some((k) => k.key.startsWith(`${tagged}:fair:${AUDIT_WRITE_QUEUE}:parked`)),
    'parked jobs in Redis',
  );
  assert.equal(
    keys.filter((k) => !k.key.startsWith(`${tagged}:`) || k.port !== queueMaster),
    [],
  );
});

test.run();
