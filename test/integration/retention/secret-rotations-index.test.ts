// Retention's secret-rotations class reads one tenant's expired rotations and nothing
// else, through secret_rotations (tenant_id, rotated_at) (migration 20261209200000).
// Tenant A: 2,000 rotations still kept and 5 expired; 20 other tenants: 2,000 expired
// each. The
// queries the class runs (lib/retention/rows.ts rowBatchSql and measureSql, EXPLAINed as
// they are, the delete rolled back) read that index's range for A: the 5 rows, no
// sequential scan, nothing read to be thrown away. Without the index (dropped in a
// rolled-back transaction) the same query reads thousands: the other tenants' expired
// rotations through rotated_at, or A's kept ones through secret_id.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describePlan, explainAnalyze, rowsOf, type PlanNode } from '../../helpers/explain.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { measureSql, rowBatchSql } from '../../../lib/retention/rows.js';
import { runTenantRetention } from '../../../lib/retention/run.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

let db: TestDatabase;
let prisma: PrismaClient;
let a: string;
const INDEX = 'secret_rotations_tenant_id_rotated_at_idx';
const CUTOFF = new Date(Date.now() - 365 * 86_400_000);

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma());
    a = (await createTenant(prisma, { name: 'rotations-a' })).id;
    // Rows straight in: the planner needs volumes, not real ciphertext.
    const seed = (tenant: string, n: number, daysAgo: number, name: string) =>
      superuserQuery(
        db.url,
        `WITH s AS (
           INSERT INTO secrets (id, tenant_id, name, encrypted_value, key_id) VALUES (gen_random_uuid(), $1::uuid, $4, 'gAAAAA-x', 'k1')
           RETURNING id)
         INSERT INTO secret_rotations (secret_id, tenant_id, from_version, to_version, rotated_at)
         SELECT s.id, $1::uuid, g, g + 1, now() - make_interval(days => $3) - g * interval '1 second'
           FROM s, generate_series(1, $2) AS g`,
        [tenant, n, daysAgo, name],
      );
    await seed(a, 2000, 10, 'kept');
    await seed(a, 5, 500, 'old');
    for (let i = 0; i < 20; i++)
      await seed((await createTenant(prisma, { name: `rotations-${i}` })).id, 2000, 500, 'old');
    await superuserQuery(db.url, 'ANALYZE secrets');
    await superuserQuery(db.url, 'ANALYZE secret_rotations');
  }),
);
test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

/** The scans of secret_rotations (heap, index or bitmap): what the query read of it. */
const rotationScans = (all: PlanNode[]) =>
  all.filter(
    (n) =>
      /Scan/.test(n['Node Type']) &&
      (n['Relation Name'] === 'secret_rotations' || n['Index Name']?.startsWith('secret_rotations_')),
  );

const plan = (sql: string, params: unknown[], before = '') => explainAnalyze(db.url, sql, params, before);

const QUERIES: Array<[what: string, sql: string, params: unknown[]]> = [
  ['a purge batch (rowBatchSql)', rowBatchSql('secret-rotations'), [CUTOFF, 5000]],
  ['the dry run and receipt count (measureSql)', measureSql('secret-rotations'), [CUTOFF]],
];

for (const [what, sql, rest] of QUERIES) {
  test(`${what} reads ${INDEX} for the tenant's 5 expired rotations, not the 42,000 others`, async () => {
    const all = await plan(sql, [a, ...rest]);
    const scans = rotationScans(all);
    assert.ok(
      scans.some((n) => n['Index Name'] === INDEX),
      `no scan of ${INDEX}: ${describePlan(all)}`,
    );
    assert.is(scans.filter((n) => n['Node Type'] === 'Seq Scan').length, 0, `sequential scan: ${describePlan(all)}`);
    const discarded = scans.reduce((sum, n) => sum + (n['Rows Removed by Filter'] ?? 0), 0);
    assert.is(discarded, 0, `rows read and discarded: ${discarded} (${describePlan(all)})`);
    for (const n of scans) assert.is(rowsOf(n), 5, `rotations read: ${describePlan(all)}`);
  });
}

test('without the index the same batch reads thousands of rotations (what the index is for)', async () => {
  const all = await plan(rowBatchSql('secret-rotations'), [a, CUTOFF, 5000], `DROP INDEX ${INDEX}`);
  const scans = rotationScans(all);
  const read = Math.max(...scans.map((n) => rowsOf(n) + (n['Rows Removed by Filter'] ?? 0)));
  assert.ok(read >= 2000, `rotations read without the index: ${read} (${describePlan(all)})`);
});

test('the purge deletes the 5 and only them', async () => {
  const [out] = await runTenantRetention(prisma, a, { classes: ['secret-rotations'] });
  assert.is(out!.deleted, 5);
  const left = await superuserQuery(
    db.url,
    `SELECT tenant_id::text AS t, count(*)::int AS n FROM secret_rotations GROUP BY tenant_id ORDER BY n`,
  );
  assert.equal(
    left.rows.filter((r) => r.t === a).map((r) => r.n),
    [2000],
  );
  assert.is(
    left.rows.reduce((sum, r) => sum + r.n, 0),
    42_000,
  );
});

test.run();
