// UPDATE, DELETE and TRUNCATE on audit_log fail for every role that connects
// normally: the superuser, the table owner, and a plain application role.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createPrisma } from '../../../lib/clients/prisma.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
const owner = `bulwark_owner_${randomBytes(3).toString('hex')}`;
const app = `bulwark_app_${randomBytes(3).toString('hex')}`;

function roleUrl(role: string): string {
  const u = new URL(db.url);
  u.username = role;
  return u.toString();
}

async function attempt(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
    return 'succeeded';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end();
  }
}

test.before(async () => {
  db = await createTestDatabase();
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 1 });
  const tenant = await createTenant(prisma, { name: 'append-only' });
  await prisma.$disconnect();
  await superuserQuery(
    db.url,
    `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, action, resource_type, prev_hash, hash)
     VALUES ($1, 1001, 'e1', now(), now(), 'system', 'test:seeded', 'test', repeat('0', 64), repeat('a', 64))`,
    [tenant.id],
  );
  await superuserQuery(db.url, `CREATE ROLE ${owner} LOGIN; CREATE ROLE ${app} LOGIN;
    ALTER TABLE audit_log OWNER TO ${owner};
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_log TO ${app};
    GRANT USAGE ON SEQUENCE audit_log_id_seq TO ${app};`);
});

test.after(async () => {
  await superuserQuery(db.url, `ALTER TABLE audit_log OWNER TO postgres`);
  await db.drop();
  await superuserQuery(db.url.replace(/\/[^/]+$/, '/postgres'), `DROP ROLE IF EXISTS ${owner}; DROP ROLE IF EXISTS ${app};`);
});

for (const [who, url] of [
  ['the superuser', () => db.url],
  ['the table owner', () => roleUrl(owner)],
  ['an application role granted every privilege', () => roleUrl(app)],
] as const) {
  test(`${who} cannot UPDATE, DELETE or TRUNCATE audit_log`, async () => {
    for (const [op, sql] of [
      ['UPDATE', `UPDATE audit_log SET action = 'test:forged'`],
      ['DELETE', 'DELETE FROM audit_log'],
      ['TRUNCATE', 'TRUNCATE audit_log'],
      // Matching no row is refused too: a statement that "worked" on an empty selection
      // would tell its author that audit entries can be changed.
      ['UPDATE', `UPDATE audit_log SET action = 'test:forged' WHERE false`],
      ['DELETE', 'DELETE FROM audit_log WHERE false'],
    ] as const) {
      const outcome = await attempt(url(), sql);
      assert.match(outcome, `audit_log is append-only: ${op} is not allowed`, `${op} by ${who}: ${outcome}`);
    }
    const left = await superuserQuery(db.url, `SELECT action FROM audit_log WHERE seq = 1001`);
    assert.equal(left.rows, [{ action: 'test:seeded' }]);
    const all = await superuserQuery(db.url, `SELECT count(*)::int AS n FROM audit_log`);
    assert.is(all.rows[0].n, 3, 'the bootstrap entries and the seeded one, all still there');
  });
}

test('INSERT still works for the application role', async () => {
  const outcome = await attempt(
    roleUrl(app),
    `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, action, resource_type, prev_hash, hash)
     SELECT tenant_id, 1002, 'e2', now(), now(), 'system', 'test:seeded', 'test', repeat('a', 64), repeat('b', 64) FROM audit_log WHERE seq = 1001`,
  );
  assert.is(outcome, 'succeeded');
});

test.run();
