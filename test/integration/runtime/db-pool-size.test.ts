// DATABASE_POOL_SIZE sizes the pool a started Bulwark runs on: under more concurrent
// queries than it allows, the process holds exactly that many Postgres sessions, never
// more (the default of 10 would have opened one per query here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

const POOL_SIZE = 3;
const QUERIES = 8;
/** pg_sleep returns void, which Prisma cannot read: selected from instead. */
const SLEEP = 'SELECT 1 AS n FROM pg_sleep(1)';

let db: TestDatabase;
let bulwark: RunningBulwark;
/** A session of the test's own, to watch pg_stat_activity without taking from the pool. */
let watcher: pg.Client;

test.before(
  setup(async () => {
    db = await createTestDatabase();
    const config = testConfig(db.url, { DATABASE_POOL_SIZE: String(POOL_SIZE) });
    bulwark = await startBulwark(config, { scheduler: false, http: false, logDestination: captureLogs().stream });
    watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
  }),
);

test.after(
  cleanup([
    ['stop bulwark', () => bulwark?.stop()],
    ['close watcher', () => watcher?.end()],
    ['obliterate queues', () => bulwark && obliterateQueues(bulwark.ctx.config.queuePrefix)],
    ['drop database', () => db?.drop()],
  ]),
);

/** Sessions on the test database other than the watcher's: all of them are the process's. */
async function sessions(): Promise<{ total: number; sleeping: number }> {
  const r = await watcher.query<{ total: number; sleeping: number }>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE state = 'active' AND query = $1)::int AS sleeping
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    [SLEEP],
  );
  return r.rows[0]!;
}

test('the pool is built with DATABASE_POOL_SIZE', () => {
  assert.is(bulwark.ctx.pg.options.max, POOL_SIZE);
});

test('more concurrent queries than the pool allows: exactly DATABASE_POOL_SIZE sessions run them, never more', async () => {
  let finished = false;
  let failed: unknown;
  // Through Prisma, the way the workers and the API reach the database.
  const all = Promise.all(Array.from({ length: QUERIES }, () => bulwark.ctx.prisma.$queryRawUnsafe(SLEEP)))
    .catch((err: unknown) => void (failed = err))
    .finally(() => (finished = true));
  const seen: Array<{ total: number; sleeping: number }> = [];
  const sample = async () => {
    if (failed) throw failed;
    const s = await sessions();
    seen.push(s);
    return s;
  };
  await waitFor(async () => ((await sample()).sleeping === POOL_SIZE ? true : undefined), `${POOL_SIZE} sessions running the queries at once`, 60_000, 20);
  while (!finished) {
    await sample();
    await new Promise((r) => setTimeout(r, 20));
  }
  await all;
  if (failed) throw failed;
  assert.ok(seen.length > 1, 'sampled while the queries ran');
  const most = Math.max(...seen.map((s) => s.total));
  assert.ok(most <= POOL_SIZE, `the process held ${most} sessions, more than DATABASE_POOL_SIZE=${POOL_SIZE}: ${JSON.stringify(seen)}`);
  assert.is(Math.max(...seen.map((s) => s.sleeping)), POOL_SIZE);
});

test.run();
