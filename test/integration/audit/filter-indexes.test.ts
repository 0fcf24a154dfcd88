// Issue 15 defect 9: GET /v1/audit's filters read an index range, not the tenant.
// With 20,000 entries in one tenant and a filter matching none of them, each filter's
// query (the one the route sends: tenant, filter, newest first, a page) is planned as a
// scan of the index made for it, and no row is read only to be thrown away by a filter.
// Before the indexes, Postgres walked (tenant_id, seq) backwards through every entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
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
    // 50 resources, all of actor type "user".
    await superuserQuery(
      db.url,
      `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, actor_id, action, resource_type, resource_id, prev_hash, hash)
       SELECT $1::uuid, 1000 + g, 'e' || g, now(), now(), 'user', 'actor-' || (g % 20), 'task:' || (g % 10), 'task', 'task-' || (g % 50), repeat('0', 64), repeat('0', 64)
         FROM generate_series(1, 20000) AS g`,
      [tenantId],
    );
    await superuserQuery(db.url, 'ANALYZE audit_log');
  }),
);

test.after(cleanup(databaseTeardown(() => ({ db, prisma }))));

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

const FILTERS: Array<[name: string, where: string, value: string]> = [
  ['action', 'action = $2', 'nothing:matches'],
  ['actorId', 'actor_id = $2', 'nobody'],
  ['actorType', 'actor_type = $2', 'ai'],
  ['resourceType', 'resource_type = $2', 'invoice'],
  ['resourceId', 'resource_id = $2', 'no-such-resource'],
];

for (const [name, where, value] of FILTERS) {
  test(`a filter on ${name} matching nothing reads an index range, not the tenant's 20,000 entries`, async () => {
    const res = await superuserQuery(db.url, `EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM audit_log WHERE tenant_id = $1 AND ${where} ORDER BY seq DESC LIMIT 51`, [tenantId, value]);
    const plan = (res.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan;
    const all = nodes(plan);
    const indexes = all.map((n) => n['Index Name']).filter(Boolean);
    assert.ok(indexes.some((i) => /^audit_log_tenant_id_.*_seq_idx$/.test(i!) && i !== 'audit_log_tenant_id_seq_key'), `plan: ${JSON.stringify(all.map((n) => [n['Node Type'], n['Index Name']]))}`);
    const discarded = all.reduce((sum, n) => sum + (n['Rows Removed by Filter'] ?? 0), 0);
    assert.is(discarded, 0, `rows read and discarded: ${discarded}`);
  });
}

test('the combined resource filter (type and id) uses the index on both', async () => {
  const res = await superuserQuery(db.url, `EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM audit_log WHERE tenant_id = $1 AND resource_type = $2 AND resource_id = $3 ORDER BY seq DESC LIMIT 51`, [tenantId, 'task', 'task-7']);
  const all = nodes((res.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
  assert.ok(all.some((n) => n['Index Name'] === 'audit_log_tenant_id_resource_type_resource_id_seq_idx' || n['Index Name'] === 'audit_log_tenant_id_resource_id_seq_idx'), JSON.stringify(all.map((n) => n['Index Name'])));
});

test.run();
