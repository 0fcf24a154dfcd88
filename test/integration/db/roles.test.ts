// The role split of docs/going-to-production.md § Roles, on the real Postgres: the
// migrations run as an owner role that is not a superuser but has CREATEROLE (and owns
// the database); the page's grants, run as written (names substituted), give the
// application role what Bulwark needs, `GRANT bw_retention` included, and retention
// then purges as that role; without CREATEROLE the migration is refused naming it; a
// database migrated by the first text of the retention migration is accepted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { migrate, readMigrationFiles, SUPERSEDED_CHECKSUMS } from '../../../lib/db/migrations.js';
import { MigrationError } from '../../../lib/errors.js';
import { runTenantRetention } from '../../../lib/retention/run.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { ADMIN_URL, createTestDatabase, superuserQuery, urlFor, type TestDatabase } from '../../helpers/db.js';
import { cleanup } from '../../helpers/lifecycle.js';
import { daysAgo, entryAt, seedEntries } from '../../helpers/retention.js';

const tag = randomBytes(3).toString('hex');
const OWNER = `bw_t_owner_${tag}`;
const PLAIN = `bw_t_plain_${tag}`;
const APP = `bw_t_app_${tag}`;
const BARE = `bw_t_bare_${tag}`;
const DB = `bw_t_roles_${tag}`;
const DB2 = `bw_t_roles2_${tag}`;
const as = (role: string, db: string) => {
  const u = new URL(urlFor(db));
  u.username = role;
  return u.toString();
};
const admin = (sql: string) => superuserQuery(ADMIN_URL, sql);
const clients: PrismaClient[] = [];
let cloned: TestDatabase | undefined;

async function run(url: string, sql: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end();
  }
}

/** The page's SQL block that grants the application role its privileges. */
function grantsOfThePage(): string {
  const page = readFileSync(new URL('../../../docs/going-to-production.md', import.meta.url), 'utf8');
  const block = [...page.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('TO bw_app'));
  assert.ok(block, 'going-to-production.md has the grants for bw_app');
  return block!;
}

test.before(async () => {
  await admin(`CREATE ROLE ${OWNER} LOGIN CREATEROLE; CREATE ROLE ${PLAIN} LOGIN; CREATE ROLE ${APP} LOGIN;
               CREATE ROLE ${BARE} LOGIN`);
  await admin(`CREATE DATABASE ${DB} OWNER ${OWNER}`);
  await admin(`CREATE DATABASE ${DB2} OWNER ${PLAIN}`);
});
test.after(
  cleanup([
    ['disconnect', () => Promise.all(clients.map((c) => c.$disconnect()))],
    ['drop database', () => admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)],
    ['drop database 2', () => admin(`DROP DATABASE IF EXISTS ${DB2} WITH (FORCE)`)],
    ['drop cloned', () => cloned?.drop()],
    ['drop roles', () => admin(`DROP ROLE IF EXISTS ${APP}, ${BARE}, ${PLAIN}, ${OWNER}`)],
  ]),
);

test('an owner with CREATEROLE, not a superuser, runs every migration; afterwards nobody is a member of bw_audit_purger', async () => {
  const report = await migrate(as(OWNER, DB));
  assert.ok(report.applied.includes('20261206500000_retention'), report.applied.join(', '));
  const [fn] = (
    await superuserQuery(
      urlFor(DB),
      `SELECT proowner::regrole::text AS owner, proacl::text AS acl FROM pg_proc WHERE proname = 'audit_purge'`,
    )
  ).rows;
  assert.is(fn.owner, 'bw_audit_purger');
  assert.match(fn.acl, 'bw_retention=X/bw_audit_purger');
  assert.not.match(fn.acl, '=X/' + OWNER);
  const [after] = (
    await superuserQuery(
      urlFor(DB),
      `SELECT pg_has_role($1, 'bw_audit_purger', 'MEMBER') AS member,
              has_schema_privilege('bw_audit_purger', 'public', 'CREATE') AS can_create`,
      [OWNER],
    )
  ).rows;
  assert.equal(after, { member: false, can_create: false }, 'the temporary grants are gone');
});

test("the page's grants, run by the owner, let the application role run Bulwark and retention (GRANT bw_retention)", async () => {
  const sql = grantsOfThePage()
    .replaceAll('bw_app', APP)
    .replaceAll('bw_owner', OWNER)
    .replace(/DATABASE bulwark\b/g, `DATABASE ${DB}`);
  assert.match(sql, `GRANT bw_retention TO ${APP}`);
  assert.is(await run(as(OWNER, DB), sql), 'ok');
  const app = createPrisma({ databaseUrl: as(APP, DB) }, { max: 1 });
  clients.push(app);
  const tenant = (await createTenant(app, { name: 'roles' })).id;
  await seedEntries(app, 30, () => entryAt(tenant, daysAgo(200)));
  const [audit] = await runTenantRetention(app, tenant, { classes: ['audit'] });
  assert.is(audit!.deleted, 30);
  assert.match(await run(as(APP, DB), 'DELETE FROM audit_log'), 'permission denied for table audit_log');
  assert.match(await run(as(APP, DB), 'SET ROLE bw_audit_purger'), 'permission denied');
});

test('an application role without bw_retention is refused the purge', async () => {
  const sql = grantsOfThePage()
    .replaceAll('bw_app', BARE)
    .replaceAll('bw_owner', OWNER)
    .replace(/DATABASE bulwark\b/g, `DATABASE ${DB}`)
    .replace(/^GRANT bw_retention .*$/m, '');
  assert.is(await run(as(OWNER, DB), sql), 'ok');
  const bare = createPrisma({ databaseUrl: as(BARE, DB) }, { max: 1 });
  clients.push(bare);
  const tenant = (await createTenant(bare, { name: 'bare' })).id;
  await seedEntries(bare, 3, () => entryAt(tenant, daysAgo(200)));
  try {
    await runTenantRetention(bare, tenant, { classes: ['audit'] });
    assert.unreachable('the purge should be refused');
  } catch (err) {
    assert.match(String((err as Error).message), 'permission denied for function audit_purge');
  }
});

test('an owner without CREATEROLE is refused the retention migration, which names what it needs', async () => {
  try {
    await migrate(as(PLAIN, DB2));
    assert.unreachable('the migration should be refused');
  } catch (err) {
    assert.instance(err, MigrationError);
    assert.match((err as Error).message, '20261206500000_retention');
    assert.match((err as Error).message, 'CREATEROLE');
  }
});

test("a database the retention migration's first text migrated is accepted, its checksum brought up to date; any other change is refused", async () => {
  cloned = await createTestDatabase();
  const file = (await readMigrationFiles()).find((f) => f.name === '20261206500000_retention')!;
  const old = SUPERSEDED_CHECKSUMS['20261206500000_retention']![0]!;
  await superuserQuery(cloned.url, `UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2`, [
    old,
    file.name,
  ]);
  const report = await migrate(cloned.url);
  assert.equal(report.applied, []);
  const [row] = (
    await superuserQuery(cloned.url, `SELECT checksum FROM _prisma_migrations WHERE migration_name = $1`, [file.name])
  ).rows;
  assert.is(row.checksum, file.checksum);
  await superuserQuery(
    cloned.url,
    `UPDATE _prisma_migrations SET checksum = repeat('e', 64) WHERE migration_name = $1`,
    [file.name],
  );
  try {
    await migrate(cloned.url);
    assert.unreachable('a changed migration should be refused');
  } catch (err) {
    assert.match((err as Error).message, 'changed after it was applied');
  }
});

test.run();
