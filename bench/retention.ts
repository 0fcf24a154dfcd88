/**
 * `npm run bench:retention`: retention against raw baselines measured in the same run.
 *
 * Rows: one tenant with BENCH_ROWS audit entries (default 1,000,000), the oldest 10%
 * (BENCH_EXPIRED_PCT) past the 90-day TTL, written through the real chain code into
 * one database that is then copied three times (CREATE DATABASE … TEMPLATE), so each
 * measurement starts from the same rows:
 *   1. raw: one `DELETE FROM audit_log WHERE tenant_id = $1 AND occurred_at < $2`, run
 *      as bw_audit_purger (the one role the append-only trigger lets delete);
 *   2. Bulwark: runTenantRetention for the audit class (batches through audit_purge(),
 *      the receipt, the chain's gap records, the retention:purged entry), rows/s vs 1;
 *   3. audit writes (BENCH_WRITERS loops of one-entry appends to the same tenant) for
 *      BENCH_WRITE_SECONDS alone, then while Bulwark purges: p99 during / p99 alone.
 * Objects: bench/retention-objects.ts (keys listed per key deleted, deletes/s vs raw).
 * The machine is shared and s3rver is slow: only the ratios mean anything.
 * BENCH_PART=rows|objects runs one part. BENCH_STRICT=1 exits 1 when a target is missed.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { recordAuditEntriesInTx } from '../lib/audit/record.js';
import { createPrisma, type PrismaClient } from '../lib/clients/prisma.js';
import { runTenantRetention } from '../lib/retention/run.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { ADMIN_URL, createTestDatabase, urlFor } from '../test/helpers/db.js';
import { benchObjects } from './retention-objects.js';
import { envInt, fmtInt, log, pool } from './util.js';

const ROWS = envInt('BENCH_ROWS', 1_000_000);
const EXPIRED_PCT = envInt('BENCH_EXPIRED_PCT', 10);
const WRITERS = envInt('BENCH_WRITERS', 2);
const WRITE_SECONDS = envInt('BENCH_WRITE_SECONDS', 10);
const DAY_MS = 86_400_000;
const PART = process.env.BENCH_PART ?? 'all';
/** Rows per purge batch: the job's default unless BENCH_BATCH says otherwise. */
const BATCH = process.env.BENCH_BATCH ? envInt('BENCH_BATCH', 1000) : undefined;

export const percentile = (xs: number[], p: number) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The seeded database and its tenant: expired entries first (old seqs), then live ones. */
async function seed(): Promise<{ name: string; tenant: string; expired: number }> {
  const db = await createTestDatabase('bench_ret');
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 4 });
  const tenant = (await createTenant(prisma, { name: 'bench-retention' })).id;
  const expired = Math.round((ROWS * EXPIRED_PCT) / 100);
  const started = Date.now();
  const CHUNK = 2000;
  // One chain: chunks in order (each transaction locks the tenant's chain head anyway).
  for (let i = 0; i < ROWS; i += CHUNK) {
    const n = Math.min(CHUNK, ROWS - i);
    await prisma.$transaction(
      (tx) =>
        recordAuditEntriesInTx(
          tx,
          Array.from({ length: n }, (_, j) => ({
            tenantId: tenant,
            occurredAt: new Date(Date.now() - (i + j < expired ? 120 : 10) * DAY_MS).toISOString(),
            actorType: 'user' as const,
            actorId: `u-${(i + j) % 50}`,
            action: 'task:completed',
            resourceType: 'task',
            resourceId: String(i + j),
          })),
        ),
      { timeout: 120_000 },
    );
  }
  await prisma.$disconnect();
  log(`seeded ${fmtInt(ROWS).trim()} entries (${expired} expired) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { name: db.name, tenant, expired };
}

async function copyOf(template: string, label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${template}_${label}`;
  // A pool's session can outlive its client's disconnect by a moment; a template takes none.
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${template}'`);
  await admin(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = urlFor(name);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('ANALYZE audit_log');
  await c.end();
  return { url, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Append one entry at a time from `WRITERS` loops until `stop()`; returns each append's latency (ms). */
function writers(prisma: PrismaClient, tenant: string): { stop: () => Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const done = pool(WRITERS, WRITERS, async () => {
    while (running) {
      const t0 = performance.now();
      await prisma.$transaction((tx) =>
        recordAuditEntriesInTx(tx, [
          {
            tenantId: tenant,
            actorType: 'user',
            actorId: 'w',
            action: 'task:done',
            resourceType: 'task',
            resourceId: randomUUID(),
          },
        ]),
      );
      latencies.push(performance.now() - t0);
    }
  });
  return {
    stop: async () => {
      running = false;
      await done;
      return latencies;
    },
  };
}

async function benchRows(): Promise<boolean> {
  const { name, tenant, expired } = await seed();
  const cutoff = new Date(Date.now() - 90 * DAY_MS);
  let ok = true;
  try {
    // 1. raw DELETE of the same rows.
    const raw = await copyOf(name, 'raw');
    const c = new pg.Client({ connectionString: raw.url });
    await c.connect();
    await c.query('SET ROLE bw_audit_purger');
    let t0 = performance.now();
    const del = await c.query(`DELETE FROM audit_log WHERE tenant_id = $1 AND occurred_at < $2`, [tenant, cutoff]);
    const rawMs = performance.now() - t0;
    await c.end();
    await raw.drop();
    const rawRate = (del.rowCount! * 1000) / rawMs;

    // 2. Bulwark's purge.
    const mine = await copyOf(name, 'bulwark');
    const prisma = createPrisma({ databaseUrl: mine.url }, { max: 2 });
    // Connected and warm, as the raw client is and a worker's always is.
    await prisma.tenant.findFirst();
    await prisma.$queryRawUnsafe('SELECT 1');
    t0 = performance.now();
    const [out] = await runTenantRetention(prisma, tenant, { classes: ['audit'], batchSize: BATCH });
    const ms = performance.now() - t0;
    await prisma.$disconnect();
    await mine.drop();
    const rate = (out!.deleted * 1000) / ms;
    const ratio = rate / rawRate;
    ok &&= ratio >= 0.5;
    log(`audit rows: ${fmtInt(ROWS).trim()} entries, ${expired} expired`);
    log(`  raw DELETE        ${fmtInt(rawRate)} rows/s  (${del.rowCount} rows in ${rawMs.toFixed(0)} ms)`);
    log(
      `  Bulwark purge     ${fmtInt(rate)} rows/s  (${out!.deleted} rows in ${ms.toFixed(0)} ms, receipt and chain anchor included)  ratio ${ratio.toFixed(2)} (target >= 0.5)`,
    );

    // 3. audit write p99 alone, then during a purge.
    const busy = await copyOf(name, 'writes');
    const wp = createPrisma({ databaseUrl: busy.url }, { max: WRITERS + 1 });
    const pp = createPrisma({ databaseUrl: busy.url }, { max: 2 });
    const alone = writers(wp, tenant);
    await new Promise((r) => setTimeout(r, WRITE_SECONDS * 1000));
    const base = await alone.stop();
    const during = writers(wp, tenant);
    const purgeStart = performance.now();
    const [p] = await runTenantRetention(pp, tenant, { classes: ['audit'], batchSize: BATCH });
    const purgeMs = performance.now() - purgeStart;
    const under = await during.stop();
    await wp.$disconnect();
    await pp.$disconnect();
    await busy.drop();
    const p99Base = percentile(base, 99);
    const p99During = percentile(under, 99);
    const wRatio = p99During / p99Base;
    ok &&= wRatio <= 2;
    log(`  audit write p99 alone   ${p99Base.toFixed(1)} ms  (${base.length} appends, ${WRITERS} writers)`);
    log(
      `  audit write p99 purging ${p99During.toFixed(1)} ms  (${under.length} appends while ${p!.deleted} rows went in ${purgeMs.toFixed(0)} ms)  ratio ${wRatio.toFixed(2)} (target <= 2)`,
    );
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  return ok;
}

async function main(): Promise<number> {
  log(`bench:retention (shared machine: compare the ratios, not the absolute figures)`);
  let ok = true;
  if (PART === 'all' || PART === 'rows') ok = (await benchRows()) && ok;
  if (PART === 'all' || PART === 'objects') ok = (await benchObjects()) && ok;
  if (!ok) log('a target was missed');
  return process.env.BENCH_STRICT === '1' && !ok ? 1 : 0;
}

process.exitCode = await main();
