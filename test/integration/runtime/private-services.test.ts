// The private Redis and Postgres of the fault-injection harness (chaos/services/), which
// tests that must break a service use too: each on its own port and folder, never the
// shared ones; Redis's AOF survives a kill -9; Postgres stops, refuses, starts again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { startPrivatePostgres, type PrivatePostgres } from '../../../chaos/services/postgres.js';
import { startPrivateRedis, type PrivateRedis } from '../../../chaos/services/redis.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

let redis: PrivateRedis;
let postgres: PrivatePostgres;

test.before(
  setup(async () => {
    [redis, postgres] = await Promise.all([startPrivateRedis(), startPrivatePostgres()]);
  }),
);
test.after(
  cleanup([
    ['destroy redis', () => redis?.destroy()],
    ['destroy postgres', () => postgres?.destroy()],
  ]),
);

async function query(sql: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: postgres.url('postgres'), connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql)).rows[0];
  } finally {
    await client.end();
  }
}

test('Redis: its own port and folder, AOF on; a write acknowledged before kill -9 is there after the restart', async () => {
  assert.is.not(redis.port, 6379);
  assert.is(await redis.cli('CONFIG', 'GET', 'appendonly'), 'appendonly\nyes');
  assert.is(await redis.cli('SET', 'acknowledged', 'kept'), 'OK');
  const pid = redis.pid();
  await redis.kill9();
  assert.is(redis.pid(), undefined);
  await redis.restart();
  assert.is.not(redis.pid(), pid);
  assert.is(await redis.cli('GET', 'acknowledged'), 'kept');
});

test('Postgres: its own port; stopped it refuses connections, started again it answers; terminate ends other sessions', async () => {
  assert.is.not(postgres.port, 5432);
  assert.equal(await query('SELECT 1 AS one'), { one: 1 });
  const held = new pg.Client({ connectionString: postgres.url('postgres') });
  const ended = new Promise<string>((resolve) => held.on('error', (err) => resolve(err.message)));
  await held.connect();
  assert.is(await postgres.terminate('postgres'), 1);
  assert.match(await ended, /terminat/);
  await held.end().catch(() => undefined);

  await postgres.stop('fast');
  const refused = await query('SELECT 1').then(
    () => 'answered',
    (err: Error & { code?: string }) => err.code ?? err.message,
  );
  assert.is(refused, 'ECONNREFUSED');
  await postgres.start();
  assert.equal(await query('SELECT 2 AS two'), { two: 2 });
});

test('destroy removes the folders', async () => {
  const other = await startPrivateRedis({ appendonly: false });
  assert.ok(existsSync(other.dir));
  await other.destroy();
  assert.not.ok(existsSync(other.dir));
});

test.run();
