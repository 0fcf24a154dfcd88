import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDatabase, MIGRATIONS_DIR, migrate, pendingMigrations, readMigrationFiles } from '../../../lib/db/migrations.js';
import { MigrationError } from '../../../lib/errors.js';
import { createEmptyDatabase, superuserQuery, urlFor, ADMIN_URL, type TestDatabase } from '../../helpers/db.js';
import pg from 'pg';

const dbs: TestDatabase[] = [];
async function emptyDb() {
  const db = await createEmptyDatabase();
  dbs.push(db);
  return db;
}

test.after(async () => {
  for (const db of dbs) await db.drop();
});

test('applies every migration once, records it as Prisma does, and a re-run is a no-op', async () => {
  const db = await emptyDb();
  const files = await readMigrationFiles();
  const first = await migrate(db.url);
  assert.equal(first.applied, files.map((f) => f.name));
  const rows = await superuserQuery(db.url, 'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ORDER BY migration_name');
  assert.is(rows.rowCount, files.length);
  for (const [i, f] of files.entries()) {
    const row = rows.rows[i];
    assert.is(row.migration_name, f.name);
    assert.is(row.checksum, createHash('sha256').update(f.sql).digest('hex'));
    assert.ok(row.finished_at instanceof Date);
    assert.is(row.rolled_back_at, null);
    assert.is(row.applied_steps_count, 1);
  }
  const second = await migrate(db.url);
  assert.equal(second.applied, []);
  assert.is(second.alreadyApplied, files.length);
  const count = await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
  assert.is(count.rows[0].n, files.length);
});

test('concurrent runs are safe: each migration is applied exactly once', async () => {
  const db = await emptyDb();
  const reports = await Promise.all([migrate(db.url), migrate(db.url), migrate(db.url)]);
  const files = await readMigrationFiles();
  assert.is(reports.reduce((n, r) => n + r.applied.length, 0), files.length);
  const count = await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
  assert.is(count.rows[0].n, files.length);
});

test('a failing migration leaves the database as it was and names the file', async () => {
  const db = await emptyDb();
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mig-'));
  try {
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await mkdir(join(dir, '20991231000000_broken'));
    await writeFile(join(dir, '20991231000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT 1/0;\n');
    try {
      await migrate(db.url, { dir });
      assert.unreachable('should have failed');
    } catch (err) {
      assert.instance(err, MigrationError);
      assert.match((err as Error).message, /20991231000000_broken/);
      assert.match((err as Error).message, /division by zero/);
    }
    const table = await superuserQuery(db.url, `SELECT to_regclass('half_done') AS t`);
    assert.is(table.rows[0].t, null, 'the failed migration left a table behind');
    const recorded = await superuserQuery(db.url, `SELECT migration_name FROM _prisma_migrations`);
    assert.not.ok(recorded.rows.some((r) => r.migration_name === '20991231000000_broken'));
    // The good migrations before it were applied and stay applied.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      assert.equal(await pendingMigrations(client, await readMigrationFiles(dir)), ['20991231000000_broken']);
    } finally {
      await client.end();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a migration changed after it was applied is refused', async () => {
  const db = await emptyDb();
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mig-'));
  try {
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await migrate(db.url, { dir });
    const [first] = await readMigrationFiles(dir);
    await writeFile(join(dir, first!.name, 'migration.sql'), `${first!.sql}\n-- edited\n`);
    try {
      await migrate(db.url, { dir });
      assert.unreachable('should have failed');
    } catch (err) {
      assert.instance(err, MigrationError);
      assert.match((err as Error).message, /changed after it was applied/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the alert_deliveries migration gives each alert sent before it its one channel row, where the channel still exists', async () => {
  const db = await emptyDb();
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mig-'));
  const MIGRATION = '20261126120000_alert_deliveries';
  try {
    // The database as it stood before this migration: it and every later one held back.
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const later = (await readdir(MIGRATIONS_DIR)).filter((name) => name >= MIGRATION && !name.includes('.'));
    for (const name of later) await rm(join(dir, name), { recursive: true });
    await migrate(db.url, { dir });
    const tenant = (await superuserQuery(db.url, `INSERT INTO tenants (id, name) VALUES (gen_random_uuid(), 'before') RETURNING id`)).rows[0].id as string;
    const channel = (await superuserQuery(db.url, `INSERT INTO alert_channels (id, tenant_id, name, type, target, secret_ref, severities) VALUES (gen_random_uuid(), $1, 'hook', 'webhook', 'https://x.example', 'secret://h', '{warning}') RETURNING id`, [tenant])).rows[0].id as string;
    const rows: Array<[outcome: string, reason: string | null, channel: string | null]> = [['delivered', null, 'hook'], ['failed', 'rejected', 'hook'], ['received', null, null], ['delivered', null, 'removed-since']];
    const ids: string[] = [];
    for (const [outcome, reason, ch] of rows) {
      const r = await superuserQuery(db.url, `INSERT INTO alert_ledger (id, tenant_id, type, severity, title, group_key, occurred_at, received_at, outcome, reason, channel, attempts, last_status)
        VALUES (gen_random_uuid(), $1, 't', 'warning', 'x', 't', now(), now(), $2, $3, $4, 1, 200) RETURNING id`, [tenant, outcome, reason, ch]);
      ids.push(r.rows[0].id);
    }
    for (const name of later) await cp(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
    await migrate(db.url, { dir });
    const got = await superuserQuery(db.url, 'SELECT alert_id, channel_id, channel, channel_type, outcome, reason, attempts FROM alert_deliveries ORDER BY outcome');
    assert.equal(got.rows, [
      { alert_id: ids[0], channel_id: channel, channel: 'hook', channel_type: 'webhook', outcome: 'delivered', reason: null, attempts: 1 },
      { alert_id: ids[1], channel_id: channel, channel: 'hook', channel_type: 'webhook', outcome: 'failed', reason: 'rejected', attempts: 1 },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ensureDatabase creates a missing database and is a no-op when it exists', async () => {
  const name = `bulwark_ensure_${Date.now().toString(36)}`;
  const url = urlFor(name);
  try {
    assert.is(await ensureDatabase(url), true);
    assert.is(await ensureDatabase(url), false);
    const found = await superuserQuery(ADMIN_URL, 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    assert.is(found.rowCount, 1);
  } finally {
    await superuserQuery(ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
});

test('concurrent runs against a missing database: one creates it, the others find it created, none fails', async () => {
  const name = `bulwark_ensure_race_${Date.now().toString(36)}`;
  const url = urlFor(name);
  try {
    // Racing CREATE DATABASEs: the losers get 23505 from pg_database's unique index
    // (42P04 only when the name is already committed), so both must count as "exists".
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => ensureDatabase(url)));
    const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
    assert.equal(failed, [], 'no run fails');
    assert.is(outcomes.filter((o) => o.status === 'fulfilled' && o.value).length, 1, 'exactly one run reports creating it');
    const reports = await Promise.all([migrate(url), migrate(url)]);
    assert.is(reports.reduce((n, r) => n + r.applied.length, 0), (await readMigrationFiles()).length);
  } finally {
    await superuserQuery(ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
});

test.run();
