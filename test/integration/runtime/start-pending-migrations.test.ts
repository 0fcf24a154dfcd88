// `bulwark start` against a database with a pending migration refuses before any worker
// runs: the error names the migration and `bulwark migrate`, a job waiting in Redis is
// left alone (workers on an older schema failed jobs attempt after attempt), and the
// refused process exits. Once the migration is recorded, the same start works and the
// job is done. A database that cannot be reached does not stop the start (logged).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CONFIG_VARIABLES } from '../../../lib/config.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { PendingMigrationsError } from '../../../lib/errors.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer } from '../../../producers/index.js';
import { startBulwark } from '../../../app/main.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { startUntilExit } from '../../helpers/cli.js';
import { REDIS_URL, captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';

let db: TestDatabase;
let prisma: PrismaClient;
let connection: Redis;
let removed: Record<string, unknown>;
const prefixes: string[] = [];

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma());
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    // The newest migration made pending again: its row removed from Prisma's table.
    const { rows } = await superuserQuery(db.url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name DESC LIMIT 1');
    removed = rows[0] as Record<string, unknown>;
    await superuserQuery(db.url, 'DELETE FROM "_prisma_migrations" WHERE id = $1', [removed.id]);
  }),
);
test.after(
  cleanup([
    ['quit redis', () => connection?.quit()],
    ['obliterate queues', () => Promise.all(prefixes.map((p) => obliterateQueues(p)))],
    ...databaseTeardown(() => ({ db, prisma })),
  ]),
);

const restore = async () => {
  const cols = Object.keys(removed);
  await superuserQuery(db.url, `INSERT INTO "_prisma_migrations" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((_c, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => removed[c]));
};

test('a pending migration: start refuses naming it, touches no job, and starts once it is applied', async () => {
  const logs = captureLogs();
  const config = testConfig(db.url, { LOG_LEVEL: 'info' });
  prefixes.push(config.queuePrefix);
  const tenant = await createTenant(prisma, { name: 'pending' });
  const producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: config.queuePrefix });
  const { jobId } = await producer.audit.write({ tenantId: tenant.id, actorType: 'user', actorId: 'u-1', action: 'task:completed', resourceType: 'task', resourceId: randomUUID() });
  await producer.close();
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection, prefix: config.queuePrefix });

  const err = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, PendingMigrationsError);
  assert.equal((err as PendingMigrationsError).pending, [removed.migration_name]);
  assert.match((err as Error).message, `(${String(removed.migration_name)}): run \`bulwark migrate\` before \`bulwark start\``);
  assert.ok(logs.events().some((e) => e.event === 'migrations_pending'), 'logged');
  assert.is(await (await queue.getJob(jobId))!.getState(), 'waiting', 'no worker took the job');
  assert.is((await queue.getJob(jobId))!.attemptsMade, 0);

  await restore();
  const bulwark = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream });
  try {
    await waitFor(async () => ((await (await queue.getJob(jobId))?.getState()) === 'completed' ? true : undefined), 'the job done once migrated');
  } finally {
    await bulwark.stop();
  }
  await superuserQuery(db.url, 'DELETE FROM "_prisma_migrations" WHERE id = $1', [removed.id]);
});

test('bulwark start with a pending migration exits 1 at once, naming it, with nothing left running', async () => {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CONFIG_VARIABLES.includes(k)));
  const config = testConfig(db.url);
  prefixes.push(config.queuePrefix);
  const env = { ...inherited, NODE_NO_WARNINGS: '1', DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: config.queuePrefix, PORT: '0', LOG_LEVEL: 'warn', MASTER_KEYS: `k1:${generateFernetKey()}` };
  const { code, output } = await startUntilExit(env);
  assert.is(code, 1, output);
  assert.match(output, `bulwark: 1 migration(s) pending (${String(removed.migration_name)}): run \`bulwark migrate\` before \`bulwark start\``);
  assert.not.match(output, /bulwark_started|Server listening/);
  await restore();
});

test('an unreachable database does not stop a start: logged, and the workers wait for it', async () => {
  const logs = captureLogs();
  const config = testConfig('postgresql://postgres@127.0.0.1:1/unreachable');
  prefixes.push(config.queuePrefix);
  const bulwark = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream });
  await bulwark.stop();
  assert.ok(logs.events().some((e) => e.event === 'migrations_unchecked'), JSON.stringify(logs.events().map((e) => e.event)));
});

test.run();
