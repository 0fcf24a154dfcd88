// `bulwark migrate` when a migration fails: exit 1, the failing file named, its changes
// rolled back, the migrations before it kept. The CLI always reads the shipped
// prisma/migrations (no flag or variable points it elsewhere), so the failures are
// made the way they happen in real life: the database already holds an object that
// a migration creates. (A broken file in a temporary directory is covered through
// migrate({ dir }) in db/migrations.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readMigrationFiles } from '../../../lib/db/migrations.js';
import { runBin, runCli } from '../../helpers/cli.js';
import { createEmptyDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';

const made: TestDatabase[] = [];
test.after(async () => {
  for (const db of made) await db.drop().catch((err: unknown) => console.error('drop failed:', err));
});

async function emptyDb(): Promise<TestDatabase> {
  const db = await createEmptyDatabase();
  made.push(db);
  return db;
}

async function migrate(db: TestDatabase) {
  const r = await runCli(['migrate'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  return { code: r.code, out: r.outLines, err: r.err };
}

const applied = async (db: TestDatabase) =>
  (await superuserQuery(db.url, 'SELECT migration_name FROM _prisma_migrations ORDER BY migration_name')).rows.map((r) => r.migration_name as string);
const exists = async (db: TestDatabase, table: string) => (await superuserQuery(db.url, 'SELECT to_regclass($1) AS t', [table])).rows[0].t !== null;

test('the first migration fails: exit 1 naming it, nothing of it left, nothing recorded', async () => {
  const [first] = await readMigrationFiles();
  const db = await emptyDb();
  await superuserQuery(db.url, 'CREATE TABLE tenants (squatter int)');
  const r = await migrate(db);
  assert.is(r.code, 1);
  assert.equal(r.out, []);
  assert.is(r.err, `bulwark: migration ${first!.name} failed and was rolled back: relation "tenants" already exists`);
  assert.equal(await applied(db), []);
  for (const t of ['tenant_settings', 'audit_chain_heads', 'audit_log']) assert.not.ok(await exists(db, t), `${t} left behind`);
});

test('a later migration fails: the ones before it stay applied, the failing one is named and rolled back', async () => {
  const files = (await readMigrationFiles()).map((f) => f.name);
  const failing = files.find((n) => n.endsWith('_alert_channels_ledger'))!;
  const before = files.slice(0, files.indexOf(failing));
  assert.ok(before.length >= 1, 'the migration under test is not the first');
  const db = await emptyDb();
  // Its second table: the first (alert_channels) is created, then undone with it.
  await superuserQuery(db.url, 'CREATE TABLE alert_ledger (squatter int)');
  const r = await migrate(db);
  assert.is(r.code, 1);
  assert.equal(r.out, before.map((n) => `applied ${n}`));
  assert.is(r.err, `bulwark: migration ${failing} failed and was rolled back: relation "alert_ledger" already exists`);
  assert.equal(await applied(db), before);
  assert.not.ok(await exists(db, 'alert_channels'), 'the failed migration left alert_channels behind');
  assert.ok(await exists(db, 'secrets'), 'the migration before it stays applied');
});

test('the installed bin exits 1 and names the file on stderr', async () => {
  const [first] = await readMigrationFiles();
  const db = await emptyDb();
  await superuserQuery(db.url, 'CREATE TABLE audit_log (squatter int)');
  const r = runBin(['migrate'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  assert.is(r.status, 1, r.stderr);
  assert.is(r.stdout, '');
  assert.match(r.stderr, `bulwark: migration ${first!.name} failed and was rolled back: relation "audit_log" already exists`);
  assert.equal(await applied(db), []);
});

test.run();
