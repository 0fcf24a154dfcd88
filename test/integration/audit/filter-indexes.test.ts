// Issue 15 defect 9: GET /v1/audit's filters read an index range, not the tenant.
// One tenant with 20,000 format-1 entries and 20,000 format-2 entries (personal fields in
// audit_personal_data). For each filter matching none of them, the query the route sends
// (auditListQuery, EXPLAINed as it is) reads the index made for that filter, and no row
// is read only to be thrown away. Before the indexes, and again after format 2 when
// actorId/resourceId were ORed across the join, Postgres walked every entry backwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describePlan, explainAnalyze, rowsOf, type PlanNode } from '../../helpers/explain.js';
import { auditListQuery, type AuditListFilters } from '../../../api/audit-list-query.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabaseWithPrisma, databaseTeardown, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';

let db: TestDatabase;
let prisma: PrismaClient;
let tenantId: string;

test.before(
  setup(async () => {
    ({ db, prisma } = await createTestDatabaseWithPrisma());
    tenantId = (await createTenant(prisma, { name: 'filters' })).id;
    // Rows straight in (the chain does not matter to the planner): 20 actors, 10 actions,
    // 50 resources, all of actor type "user"; seqs above 21,000 are format 2, their actor
    // and resource ids kept apart as a tenant with resourceId personal has them.
    await superuserQuery(
      db.url,
      `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, actor_id, action, resource_type, resource_id, prev_hash, hash, format, pd_digest)
       SELECT $1::uuid, 1000 + g, 'e' || g, now(), now(), 'user',
              CASE WHEN g <= 20000 THEN 'actor-' || (g % 20) END, 'task:' || (g % 10), 'task',
              CASE WHEN g <= 20000 THEN 'task-' || (g % 50) END, repeat('0', 64), repeat('0', 64),
              CASE WHEN g <= 20000 THEN 1 ELSE 2 END, CASE WHEN g > 20000 THEN repeat('0', 64) END
         FROM generate_series(1, 40000) AS g`,
      [tenantId],
    );
    await superuserQuery(
      db.url,
      `INSERT INTO audit_personal_data (tenant_id, seq, salt, actor_id, resource_id)
       SELECT $1::uuid, 1000 + g, repeat('0', 32), 'actor-' || (g % 20), 'task-' || (g % 50)
         FROM generate_series(20001, 40000) AS g`,
      [tenantId],
    );
    await superuserQuery(db.url, 'ANALYZE audit_log');
    await superuserQuery(db.url, 'ANALYZE audit_personal_data');
  }),
);

test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

async function plan(filters: Omit<AuditListFilters, 'limit'>): Promise<PlanNode[]> {
  const { sql, params } = auditListQuery(tenantId, { ...filters, limit: 50 });
  return explainAnalyze(db.url, sql, params);
}

const FILTERS: Array<[name: keyof AuditListFilters, value: string, index: RegExp]> = [
  ['action', 'nothing:matches', /^audit_log_tenant_id_action_seq_idx$/],
  ['actorId', 'nobody', /^audit_(log|personal_data)_tenant_id_actor_id_seq_idx$/],
  ['actorType', 'ai', /^audit_log_tenant_id_actor_type_seq_idx$/],
  ['resourceType', 'invoice', /^audit_log_tenant_id_resource_type_resource_id_seq_idx$/],
  ['resourceId', 'no-such-resource', /^audit_(log|personal_data)_tenant_id_resource_id_seq_idx$/],
];

for (const [name, value, index] of FILTERS) {
  test(`the route's query filtered on ${name}, matching nothing, reads an index range, not the tenant's 40,000 entries`, async () => {
    const all = await plan({ [name]: value });
    assert.ok(
      all.some((n) => index.test(n['Index Name'] ?? '')),
      `no scan of ${index}: ${describePlan(all)}`,
    );
    const seqScans = all.filter((n) => n['Node Type'] === 'Seq Scan');
    assert.is(seqScans.length, 0, `sequential scan: ${describePlan(all)}`);
    const discarded = all.reduce((sum, n) => sum + (n['Rows Removed by Filter'] ?? 0), 0);
    assert.is(discarded, 0, `rows read and discarded: ${discarded} (${describePlan(all)})`);
    const read = all.filter((n) => n['Node Type'].includes('Index')).reduce((s, n) => s + rowsOf(n), 0);
    assert.ok(read < 100, `rows read: ${read} (${describePlan(all)})`);
  });
}

test('a personal filter finds format-1 and format-2 entries alike, from both indexes', async () => {
  // actor-7: seqs 1000 + g for g % 20 = 7, in both halves; the newest page comes from format 2.
  const all = await plan({ actorId: 'actor-7' });
  const used = new Set(all.map((n) => n['Index Name']).filter(Boolean));
  assert.ok(
    used.has('audit_log_tenant_id_actor_id_seq_idx') && used.has('audit_personal_data_tenant_id_actor_id_seq_idx'),
    describePlan(all),
  );
  const { sql, params } = auditListQuery(tenantId, { actorId: 'actor-7', cursor: '21000', limit: 3 });
  const older = await superuserQuery(db.url, sql, params);
  assert.equal(
    older.rows.map((r: { seq: string; actorId: string }) => [String(r.seq), r.actorId]),
    [
      ['20987', 'actor-7'],
      ['20967', 'actor-7'],
      ['20947', 'actor-7'],
      ['20927', 'actor-7'], // the one more row that says a next page exists
    ],
  );
  const latest = auditListQuery(tenantId, { actorId: 'actor-7', limit: 1 });
  const newest = await superuserQuery(db.url, latest.sql, latest.params);
  assert.equal(
    newest.rows.map((r: { seq: string; actorId: string }) => [String(r.seq), r.actorId]),
    [
      ['40987', 'actor-7'],
      ['40967', 'actor-7'],
    ],
  );
});

test('the combined resource filter (type and id) uses an index on the id', async () => {
  const all = await plan({ resourceType: 'task', resourceId: 'task-7' });
  assert.ok(
    all.some((n) =>
      /^audit_(log|personal_data)_tenant_id_(resource_type_)?resource_id_seq_idx$/.test(n['Index Name'] ?? ''),
    ),
    describePlan(all),
  );
});

test.run();
