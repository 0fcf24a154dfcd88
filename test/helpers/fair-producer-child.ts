/**
 * Child-process entry of test/integration/fair/sigkill.test.ts: a producer that writes
 * FAIR_CHILD_JOBS jobs of 10 entries for FAIR_CHILD_TENANT (eventIds `p-<job>-<k>`),
 * one after the other, printing `ok <job>` once each write has resolved (its entries are
 * safely in Redis, parked or added). The test SIGKILLs it part way.
 * Run as: node --import tsx test/helpers/fair-producer-child.ts
 */
import { createProducer } from '../../producers/index.js';
import { entry } from './fixtures.js';

const tenant = process.env.FAIR_CHILD_TENANT!;
const jobs = Number(process.env.FAIR_CHILD_JOBS ?? '100');
const producer = createProducer({ redisUrl: process.env.REDIS_URL!, queuePrefix: process.env.QUEUE_PREFIX! });
for (let j = 0; j < jobs; j++) {
  await producer.audit.writeMany(Array.from({ length: 10 }, (_x, k) => entry(tenant, { eventId: `p-${j}-${k}` })));
  process.stdout.write(`ok ${j}\n`);
}
await producer.close();
process.stdout.write('done\n');
