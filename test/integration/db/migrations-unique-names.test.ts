// The two unique-name migrations on a database that already breaks the new rule:
// tenant names differing only in case make `bulwark migrate` fail (exit 1) naming each
// group and the fix, with nothing changed, and it applies after the rename; API keys
// sharing a name while not revoked are renamed (the newest keeps the name, the older
// ones get their prefix appended), and no key is revoked or dropped.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS_DIR, migrate } from '../../../lib/db/migrations.js';
import { runCli } from '../../helpers/cli.js';
import { createEmptyDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';

const TENANT_CI = '20261127010000_tenant_name_ci';
const KEY_NAMES = '20261127020000_api_key_name_unique';
const made: TestDatabase[] = [];
test.after(async () => {
  for (const db of made) await db.drop().catch((err: unknown) => console.error('drop failed:', err));
});

/** A database migrated up to, not including, `migration`. */
async function before(migration: string): Promise<TestDatabase> {
  const db = await createEmptyDatabase();
  made.push(db);
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-mig-'));
  try {
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    for (const name of (await readdir(MIGRATIONS_DIR)).filter((n) => n >= migration && !n.includes('.'))) await rm(join(dir, name), { recursive: true });
    await migrate(db.url, { dir });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return db;
}

async function bulwarkMigrate(db: TestDatabase) {
  const r = await runCli(['migrate'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  return { code: r.code, err: r.err };
}

const q = async (db: TestDatabase, sql: string, params: unknown[] = []) => (await superuserQuery(db.url, sql, params)).rows;
const tenant = async (db: TestDatabase, name: string) => (await q(db, `INSERT INTO tenants (id, name) VALUES (gen_random_uuid(), $1) RETURNING id`, [name]))[0].id as string;
const applied = async (db: TestDatabase) => (await q(db, 'SELECT migration_name FROM _prisma_migrations')).map((r) => r.migration_name as string);

test('tenant names differing only in case: migrate fails naming each group and the fix, changes nothing, and applies after a rename', async () => {
  const db = await before(TENANT_CI);
  const acme = await tenant(db, 'acme');
  const ACME = await tenant(db, 'ACME');
  const beta = await tenant(db, 'Beta');
  const BETA = await tenant(db, 'beta');
  await tenant(db, 'gamma');
  const r = await bulwarkMigrate(db);
  assert.is(r.code, 1);
  assert.is(
    r.err,
    `bulwark: migration ${TENANT_CI} failed and was rolled back: tenant names must be unique without regard to case, but these differ only in case: ` +
      `"ACME" (id ${ACME}), "acme" (id ${acme}); "Beta" (id ${beta}), "beta" (id ${BETA}). ` +
      `Rename all but one tenant of each group (UPDATE tenants SET name = '<new name>' WHERE id = '<id>'), then run bulwark migrate again`,
  );
  assert.equal((await q(db, 'SELECT name FROM tenants ORDER BY name COLLATE "C"')).map((t) => t.name), ['ACME', 'Beta', '__system__', 'acme', 'beta', 'gamma'], 'no tenant renamed or dropped');
  assert.not.ok((await applied(db)).includes(TENANT_CI));
  assert.not.ok((await applied(db)).includes(KEY_NAMES), 'the migrations after it wait too');
  assert.is((await q(db, `SELECT to_regclass('tenants_name_lower_key') AS i`))[0].i, null);

  await q(db, `UPDATE tenants SET name = 'acme-old' WHERE id = $1`, [ACME]);
  await q(db, `UPDATE tenants SET name = 'beta-2' WHERE id = $1`, [BETA]);
  const again = await bulwarkMigrate(db);
  assert.is(again.code, 0, again.err);
  assert.ok((await applied(db)).includes(TENANT_CI));
  const clash = await superuserQuery(db.url, `INSERT INTO tenants (id, name) VALUES (gen_random_uuid(), 'GAMMA')`).catch((e: unknown) => e);
  assert.match(String((clash as Error).message), 'tenants_name_lower_key');
});

test('API keys sharing a name while not revoked: the newest keeps it, the older ones get their prefix appended; nothing else changes', async () => {
  const db = await before(KEY_NAMES);
  const t1 = await tenant(db, 't1');
  const t2 = await tenant(db, 't2');
  const long = 'L'.repeat(100);
  let n = 0;
  const key = async (tenantId: string, name: string, ageDays: number, revoked = false) => {
    n += 1;
    const prefix = `bwk_key${String(n).padStart(5, '0')}`;
    await q(db, `INSERT INTO api_keys (id, tenant_id, name, display_prefix, hash, scopes, created_at, expires_at, revoked_at)
      VALUES (gen_random_uuid(), $1, $2, $3, $4, '{admin}', now() - make_interval(days => $5), now() + interval '30 days', CASE WHEN $6 THEN now() END)`,
      [tenantId, name, prefix, String(n).padStart(64, '0'), ageDays, revoked]);
    return prefix;
  };
  const oldest = await key(t1, 'ingest', 30);
  const middle = await key(t1, 'ingest', 20);
  const newest = await key(t1, 'ingest', 10);
  const gone = await key(t1, 'ingest', 40, true);
  const elsewhere = await key(t2, 'ingest', 50);
  const longOld = await key(t1, long, 5);
  const longNew = await key(t1, long, 1);
  const single = await key(t1, 'single', 1);
  const hashes = await q(db, 'SELECT display_prefix, hash, revoked_at FROM api_keys ORDER BY display_prefix');

  const r = await bulwarkMigrate(db);
  assert.is(r.code, 0, r.err);
  const names = Object.fromEntries((await q(db, 'SELECT display_prefix, name FROM api_keys')).map((k) => [k.display_prefix, k.name]));
  assert.equal(names, {
    [oldest]: `ingest (${oldest})`,
    [middle]: `ingest (${middle})`,
    [newest]: 'ingest',
    [gone]: 'ingest',
    [elsewhere]: 'ingest',
    [longOld]: `${'L'.repeat(85)} (${longOld})`,
    [longNew]: long,
    [single]: 'single',
  });
  assert.is(names[longOld]!.length, 100);
  assert.equal(await q(db, 'SELECT display_prefix, hash, revoked_at FROM api_keys ORDER BY display_prefix'), hashes, 'no key revoked or changed but its name');
  const clash = await superuserQuery(db.url, `INSERT INTO api_keys (id, tenant_id, name, display_prefix, hash, scopes, expires_at)
    VALUES (gen_random_uuid(), $1, 'single', 'bwk_x', $2, '{admin}', now() + interval '1 day')`, [t1, 'f'.repeat(64)]).catch((e: unknown) => e);
  assert.match(String((clash as Error).message), 'api_keys_tenant_id_name_active_key');
});

test.run();
