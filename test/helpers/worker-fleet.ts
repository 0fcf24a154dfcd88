/**
 * The setup shared by the tests that run workers and watch one queue from outside
 * (crash recovery, shutdown, forced shutdown, dependency outages): a fresh database, a
 * tenant, the rows already stored for it, a producer, and a Queue handle on one queue
 * under a random prefix; and the cleanup that closes all of it, workers first.
 *
 * Nothing connects when the fleet is made (module scope): `start()` does, in test.before.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createPrisma, type PrismaClient } from '../../lib/clients/prisma.js';
import { createTenant } from '../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../producers/index.js';
import { countRows, storedEventIds } from './audit-db.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { REDIS_URL, randomPrefix } from './env.js';
import { obliterateQueues } from './queues.js';
import { killWorker, type WorkerProcess } from './worker-process.js';

export interface WorkerFleetOptions {
  /** Tenant name, and the start of the random queue prefix. */
  name: string;
  /** The queue the `queue` handle watches. */
  queue: string;
}

export interface StartedFleet {
  db: TestDatabase;
  prisma: PrismaClient;
  producer: Producer;
  redis: Redis;
  queue: Queue;
  prefix: string;
  tenantId: string;
  /** Rows and eventIds present before the test enqueues (creating a tenant may write some). */
  baseline: { rows: number; eventIds: string[] };
}

export interface WorkerFleet {
  /** Worker processes to kill at cleanup: push each one spawned. */
  spawned: WorkerProcess[];
  /**
   * The fleet's fresh database, created on the first call (and dropped at cleanup), for
   * a file that must build on it before start() (proxies, an in-process Bulwark).
   */
  database(): Promise<TestDatabase>;
  /** Connects. `prefix` (default: random, from the name) is for a Bulwark started first. */
  start(given?: { prefix?: string }): Promise<StartedFleet>;
  /** Cleanup steps for lifecycle.ts's cleanup(), in order: workers, clients, queues, database. */
  cleanupSteps(): Array<[what: string, step: () => unknown]>;
}

export function workerFleet(options: WorkerFleetOptions): WorkerFleet {
  const spawned: WorkerProcess[] = [];
  const started: Partial<StartedFleet> = {};
  const database = async () => (started.db ??= await createTestDatabase());
  return {
    spawned,
    database,
    async start(given = {}) {
      const db = await database();
      const prefix = (started.prefix = given.prefix ?? randomPrefix(options.name));
      const prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
      started.prisma = prisma;
      const tenantId = (await createTenant(prisma, { name: options.name })).id;
      const baseline = { rows: await countRows(db.url), eventIds: await storedEventIds(db.url, tenantId) };
      const producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: prefix });
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const queue = new Queue(options.queue, { connection: redis, prefix });
      Object.assign(started, { tenantId, baseline, producer, redis, queue });
      return started as StartedFleet;
    },
    cleanupSteps: () => [
      ['kill workers', () => Promise.all(spawned.map(killWorker))],
      ['close producer', () => started.producer?.close()],
      ['close queue', () => started.queue?.close()],
      ['quit redis', () => started.redis?.quit()],
      ['obliterate queues', () => started.prefix && obliterateQueues(started.prefix)],
      ['disconnect prisma', () => started.prisma?.$disconnect()],
      ['drop database', () => started.db?.drop()],
    ],
  };
}
