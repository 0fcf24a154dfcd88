/**
 * npm run bench:audit-filters — GET /v1/audit on a tenant of 130,000 entries (BENCH_ROWS),
 * unfiltered and filtered (actorId / action matching nothing, actorId matching a few
 * hundred), against the same queries in raw SQL on the same database in the same run,
 * and against raw SQL on a copy without the filter indexes (how the filters cost before
 * migration 20261206100000). Two raw columns: the plain single-table query (the floor)
 * and the route's own query (auditListQuery: the join to audit_personal_data) sent with
 * a raw pg client, which tells the SQL's cost from the API's. Also prints what the indexes cost the insert of those rows.
 * BENCH_REQUESTS (default 40) requests per case, one at a time; medians and p95 in ms.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createPrisma } from '../lib/clients/prisma.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { startBulwark } from '../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../test/helpers/db.js';
import { testConfig } from '../test/helpers/env.js';
import { obliterateQueues } from '../test/helpers/queues.js';
import { envInt } from './util.js';
import { auditListQuery } from '../api/audit-list-query.js';

const ROWS = envInt('BENCH_ROWS', 130_000);
const REQUESTS = envInt('BENCH_REQUESTS', 40);
const FILTER_INDEXES = [
  ...['action', 'actor_id', 'actor_type', 'resource_type_resource_id', 'resource_id'].map(
    (c) => `audit_log_tenant_id_${c}_seq_idx`,
  ),
  'audit_personal_data_tenant_id_resource_id_seq_idx',
];

interface Case {
  name: string;
  query: string;
  where: string;
  params: string[];
  /** The same filter as the route's query takes it. */
  filters?: { actorId?: string; action?: string };
}
const CASES: Case[] = [
  { name: 'unfiltered', query: '', where: '', params: [] },
  {
    name: 'actorId, no match',
    query: 'actorId=nobody',
    where: 'AND actor_id = $2',
    params: ['nobody'],
    filters: { actorId: 'nobody' },
  },
  {
    name: 'action, no match',
    query: 'action=nothing%3Amatches',
    where: 'AND action = $2',
    params: ['nothing:matches'],
    filters: { action: 'nothing:matches' },
  },
  {
    name: 'actorId, 0.5% match',
    query: 'actorId=actor-7',
    where: 'AND actor_id = $2',
    params: ['actor-7'],
    filters: { actorId: 'actor-7' },
  },
];

async function fill(db: TestDatabase): Promise<{ tenantId: string; key: string; insertMs: number }> {
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 1 });
  const t = await createTenant(prisma, { name: 'bench-filters' });
  await prisma.$disconnect();
  const started = performance.now();
  await superuserQuery(
    db.url,
    `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, actor_id, action, resource_type, resource_id, metadata, prev_hash, hash)
     SELECT $1::uuid, 1000 + g, 'e' || g, now() - (g || ' s')::interval, now(), 'user', 'actor-' || (g % 200), 'task:' || (g % 20), 'task', 'task-' || (g % 5000), '{"k":"v"}'::jsonb, repeat('0', 64), repeat('0', 64)
       FROM generate_series(1, $2::int) AS g`,
    [t.id, ROWS],
  );
  const insertMs = performance.now() - started;
  await superuserQuery(db.url, 'ANALYZE audit_log');
  return { tenantId: t.id, key: t.adminKey.key, insertMs };
}

function stats(ms: number[]): { median: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p95: s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]! };
}

async function timeEach(fn: () => Promise<void>): Promise<{ median: number; p95: number }> {
  for (let i = 0; i < 3; i++) await fn(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return stats(ms);
}

async function rawTimes(url: string, tenantId: string): Promise<Map<string, { median: number; p95: number }>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out = new Map<string, { median: number; p95: number }>();
    for (const c of CASES) {
      out.set(
        c.name,
        await timeEach(
          async () =>
            void (await client.query(
              `SELECT * FROM audit_log WHERE tenant_id = $1 ${c.where} ORDER BY seq DESC LIMIT 51`,
              [tenantId, ...c.params],
            )),
        ),
      );
      const route = auditListQuery(tenantId, { ...c.filters, limit: 50 });
      out.set(`${c.name}/route`, await timeEach(async () => void (await client.query(route.sql, route.params))));
    }
    return out;
  } finally {
    await client.end();
  }
}

const withIndexes = await createTestDatabase('bulwark_bench');
const without = await createTestDatabase('bulwark_bench');
let bulwark: Awaited<ReturnType<typeof startBulwark>> | undefined;
const config = testConfig(withIndexes.url, { LOG_LEVEL: 'error' });
try {
  for (const index of FILTER_INDEXES) await superuserQuery(without.url, `DROP INDEX ${index}`);
  const before = await fill(without);
  const filled = await fill(withIndexes);
  bulwark = await startBulwark(config, { scheduler: false, workers: false });
  const api: Map<string, { median: number; p95: number }> = new Map();
  for (const c of CASES) {
    api.set(
      c.name,
      await timeEach(async () => {
        const res = await fetch(`${bulwark!.url}/v1/audit?limit=50${c.query ? `&${c.query}` : ''}`, {
          headers: { authorization: `Bearer ${filled.key}` },
        });
        if (res.status !== 200)
          throw new Error(`GET /v1/audit (${c.name}) answered ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      }),
    );
  }
  const raw = await rawTimes(withIndexes.url, filled.tenantId);
  const rawBefore = await rawTimes(without.url, before.tenantId);
  const f = (n: number) => n.toFixed(2).padStart(8);
  console.log(`GET /v1/audit on one tenant of ${ROWS} entries, ${REQUESTS} requests per case (median / p95, ms)`);
  console.log(
    `${'case'.padEnd(22)}${'API'.padStart(18)}${'raw SQL'.padStart(18)}${'API/raw'.padStart(9)}${"route's SQL, raw".padStart(20)}${'raw, no filter idx'.padStart(22)}`,
  );
  for (const c of CASES) {
    const a = api.get(c.name)!;
    const r = raw.get(c.name)!;
    const b = rawBefore.get(c.name)!;
    const q = raw.get(`${c.name}/route`)!;
    console.log(
      `${c.name.padEnd(22)}${f(a.median)} /${f(a.p95)}${f(r.median)} /${f(r.p95)}${(a.median / r.median).toFixed(1).padStart(9)}${f(q.median)} /${f(q.p95)}${f(b.median)} /${f(b.p95)}`,
    );
  }
  const u = api.get('unfiltered')!.median;
  console.log(
    `filtered/unfiltered (API, medians): ${CASES.slice(1)
      .map((c) => `${c.name} ${(api.get(c.name)!.median / u).toFixed(2)}`)
      .join('; ')}`,
  );
  console.log(
    `insert of ${ROWS} rows: ${filled.insertMs.toFixed(0)} ms with the filter indexes, ${before.insertMs.toFixed(0)} ms without (${(filled.insertMs / before.insertMs).toFixed(2)}x)`,
  );
} finally {
  await bulwark?.stop();
  await obliterateQueues(config.queuePrefix);
  await withIndexes.drop();
  await without.drop();
}
