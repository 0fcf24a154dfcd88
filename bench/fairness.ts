/**
 * `npm run bench:fairness`: does one tenant's backlog hold back another's
 * (docs/decisions/0010)? In the same run, on the same Redis and Postgres:
 *   audit  tenant A enqueues BENCH_FAIR_ENTRIES entries (writeMany of BENCH_FAIR_PER_JOB)
 *          as fast as it can; tenant B writes one entry every BENCH_FAIR_B_EVERY_MS.
 *          B's latency (enqueue to committed row) against B alone; A's throughput
 *          against A alone; then the same A + B with fair dispatch off (plain BullMQ FIFO).
 *   alert  the same with BENCH_FAIR_ALERTS alerts from A, one alert from B every 10 ms
 *          (latency to the decided ledger row).
 *   floor  each of the above once more on the raw parts with perfect isolation (a queue,
 *          a worker and connections per tenant; fairness-floor.ts): what sharing the
 *          machine alone costs B and A. A target the floor misses is out of reach here.
 *          BENCH_FAIR_FLOOR=0 skips it.
 *   enqueue the producer's cost: raw BullMQ add against fair enqueue, admitted and parked.
 * Targets: B's p99 with A's backlog at most 3x its idle p99; A's throughput with B at
 * least 0.9 of A alone. Both tenants have no rate limit here (jobs.*.perSecond 0), so
 * what is measured is the dispatch, not the default rate. BENCH_STRICT=1 exits 1 on a miss.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createPrisma } from '../lib/clients/prisma.js';
import { loadConfig } from '../lib/config.js';
import { updateTenantSettings } from '../lib/tenants/settings-store.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { measureEnqueueOverhead } from './fairness-overhead.js';
import { createFloorTable } from './fairness-floor.js';
import { runFairPhase, type BStages, type FairPhaseOptions } from './fairness-phase.js';
import { envInt, fmtInt, log } from './util.js';

const ENTRIES = envInt('BENCH_FAIR_ENTRIES', 200_000);
const PER_JOB = envInt('BENCH_FAIR_PER_JOB', 1000);
const ALERTS = envInt('BENCH_FAIR_ALERTS', 5000);
const B_EVERY_MS = envInt('BENCH_FAIR_B_EVERY_MS', 10);
const B_IDLE_SENDS = envInt('BENCH_FAIR_B_IDLE_SENDS', 300);
const OVERHEAD_N = envInt('BENCH_FAIR_ENQUEUE_N', 5000);
const TIMEOUT_MS = envInt('BENCH_TIMEOUT_MS', 600_000);
const SKIP_FLOOR = process.env.BENCH_FAIR_FLOOR === '0';
const FLOOR_TABLE = 'bench_fair_floor';
const config = loadConfig(process.env);
const MASTER_KEYS = process.env.MASTER_KEYS || `bench:${randomBytes(32).toString('base64url')}=`;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(1)} ms`.padStart(9);

/** Where B's time went (the last 1,000 completed jobs): p50 / p99 of each stage. */
function logStages(st: BStages | undefined): void {
  if (!st || st.parked.length === 0) return;
  const two = (xs: number[]) => `${pct(xs, 50).toFixed(0)} / ${pct(xs, 99).toFixed(0)} ms`;
  log(
    `    B's stages (${st.parked.length} jobs, p50 / p99): parked ${two(st.parked)}, waiting in BullMQ ${two(st.waiting)}, in the worker ${two(st.running)}`,
  );
}

type Base = Omit<FairPhaseOptions, 'label' | 'backlog' | 'bSends' | 'system'>;

/** B alone, A alone, and both, on one system; B's sends in `both` last while A's backlog does. */
async function trio(base: Base, backlog: number, system: 'fair' | 'floor') {
  const k = `${base.kind}${system === 'floor' ? '-floor' : ''}`;
  log(`${k}: B alone (${B_IDLE_SENDS} sends, one every ${B_EVERY_MS} ms)`);
  const idle = await runFairPhase({ ...base, label: `${k}-idle`, backlog: 0, bSends: B_IDLE_SENDS, system });
  log(`    B p50 ${ms(pct(idle.bLatenciesMs, 50))}  p99 ${ms(pct(idle.bLatenciesMs, 99))}`);
  log(`${k}: A alone (${backlog})`);
  const alone = await runFairPhase({ ...base, label: `${k}-alone`, backlog, bSends: 0, system });
  log(`    A ${fmtInt(alone.aPerSec)} /s (${alone.aMs.toFixed(0)} ms)`);
  log(`${k}: A's backlog and B`);
  const both = await runFairPhase({ ...base, label: `${k}-both`, backlog, bSends: 50, system });
  log(
    `    A ${fmtInt(both.aPerSec)} /s; B p50 ${ms(pct(both.bLatenciesMs, 50))}  p99 ${ms(pct(both.bLatenciesMs, 99))} (${both.bLatenciesMs.length} sends)`,
  );
  logStages(both.bStages);
  return { idle, alone, both };
}

async function scenario(base: Base, backlog: number) {
  const fair = await trio(base, backlog, 'fair');
  log(`${base.kind}: A's backlog and B, fair dispatch off (plain BullMQ FIFO)`);
  const fifo = await runFairPhase({ ...base, label: `${base.kind}-fifo`, backlog, bSends: 50, system: 'fifo' });
  log(
    `    A ${fmtInt(fifo.aPerSec)} /s; B p50 ${ms(pct(fifo.bLatenciesMs, 50))}  p99 ${ms(pct(fifo.bLatenciesMs, 99))} (${fifo.bLatenciesMs.length} sends)`,
  );
  logStages(fifo.bStages);
  const floor = SKIP_FLOOR ? undefined : await trio(base, backlog, 'floor');
  return { ...fair, fifo, floor };
}

type Scenario = Awaited<ReturnType<typeof scenario>>;
type Trio = Awaited<ReturnType<typeof trio>>;

const ratios = (t: Trio) => ({
  p99: pct(t.both.bLatenciesMs, 99) / pct(t.idle.bLatenciesMs, 99),
  a: t.both.aPerSec / t.alone.aPerSec,
});

/** "ok", or why not: a miss the floor also misses is out of reach on this machine. */
function verdict(ok: boolean, floorOk: boolean | undefined): string {
  if (ok) return 'ok';
  if (floorOk === false) return 'MISS, out of reach (the floor misses it too)';
  return floorOk === undefined ? 'MISS' : 'MISS (the floor meets it)';
}

function summarise(name: string, unit: string, s: Scenario): boolean[] {
  const idleP99 = pct(s.idle.bLatenciesMs, 99);
  const r = ratios(s);
  const f = s.floor && ratios(s.floor);
  const checks = [r.p99 <= 3, r.a >= 0.9];
  const floorChecks = f && [f.p99 <= 3, f.a >= 0.9];
  log(`  ${name}`);
  log(`    B idle      p50 ${ms(pct(s.idle.bLatenciesMs, 50))}  p99 ${ms(idleP99)}`);
  log(
    `    B with A    p50 ${ms(pct(s.both.bLatenciesMs, 50))}  p99 ${ms(pct(s.both.bLatenciesMs, 99))}  p99 ratio ${r.p99.toFixed(2)} (target <= 3)  ${verdict(checks[0]!, floorChecks?.[0])}`,
  );
  log(
    `    B FIFO      p50 ${ms(pct(s.fifo.bLatenciesMs, 50))}  p99 ${ms(pct(s.fifo.bLatenciesMs, 99))}  p99 ratio ${(pct(s.fifo.bLatenciesMs, 99) / idleP99).toFixed(2)} (fair dispatch off)`,
  );
  log(
    `    A alone ${fmtInt(s.alone.aPerSec)} ${unit}/s, with B ${fmtInt(s.both.aPerSec).trim()} ${unit}/s  ratio ${r.a.toFixed(2)} (target >= 0.9)  ${verdict(checks[1]!, floorChecks?.[1])}; FIFO ${fmtInt(s.fifo.aPerSec).trim()} ${unit}/s`,
  );
  if (s.floor && f) {
    const fl = s.floor;
    log(
      `    floor       B idle p50 ${ms(pct(fl.idle.bLatenciesMs, 50))}  p99 ${ms(pct(fl.idle.bLatenciesMs, 99))}; with A p50 ${ms(pct(fl.both.bLatenciesMs, 50))}  p99 ${ms(pct(fl.both.bLatenciesMs, 99))}  p99 ratio ${f.p99.toFixed(2)}`,
    );
    log(
      `    floor       A alone ${fmtInt(fl.alone.aPerSec).trim()} ${unit}/s, with B ${fmtInt(fl.both.aPerSec).trim()} ${unit}/s  ratio ${f.a.toFixed(2)}`,
    );
  }
  return checks;
}

const startLoad = loadavg()[0]!;
let code = 0;
const db = await createTestDatabase('bulwark_bench');
const client = new pg.Client({ connectionString: db.url });
const prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
try {
  await client.connect();
  const a = (await createTenant(prisma, { name: 'bench-a' })).id;
  const b = (await createTenant(prisma, { name: 'bench-b' })).id;
  const noRate = { jobs: { auditWrite: { perSecond: 0 }, alert: { perSecond: 0 } } };
  for (const t of [a, b]) await updateTenantSettings(prisma, t, noRate, { type: 'user', id: 'bench' });
  const base = {
    databaseUrl: db.url,
    redisUrl: config.redisUrl,
    masterKeys: MASTER_KEYS,
    db: client,
    a,
    b,
    perJob: PER_JOB,
    bEveryMs: B_EVERY_MS,
    timeoutMs: TIMEOUT_MS,
    floorTable: FLOOR_TABLE,
  };
  await createFloorTable(client, FLOOR_TABLE);
  const audit = await scenario({ ...base, kind: 'audit' }, ENTRIES);
  const alert = await scenario({ ...base, kind: 'alert' }, ALERTS);
  log(`enqueue: ${OVERHEAD_N} single-entry jobs, 50 in flight, no workers`);
  const o = await measureEnqueueOverhead(config.redisUrl, OVERHEAD_N);
  log('');
  log(
    `summary (${ENTRIES} entries in jobs of ${PER_JOB}, ${ALERTS} alerts, B every ${B_EVERY_MS} ms; FAIR_AUDIT_WINDOW ${config.fair.auditWindow}, FAIR_ALERT_WINDOW ${config.fair.alertWindow}; ${cpus().length} cores, load average ${startLoad.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} now)`,
  );
  const checks = [...summarise('audit-write', 'entries', audit), ...summarise('alert', 'alerts', alert)];
  log(
    `  enqueue     raw BullMQ add ${fmtInt(o.rawPerSec)} jobs/s; fair admitted ${fmtInt(o.admittedPerSec).trim()} (${(o.admittedPerSec / o.rawPerSec).toFixed(2)}x), parked ${fmtInt(o.parkedPerSec).trim()} (${(o.parkedPerSec / o.rawPerSec).toFixed(2)}x)`,
  );
  if (!checks.every(Boolean) && process.env.BENCH_STRICT === '1') code = 1;
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  code = 1;
} finally {
  await client.end().catch(() => undefined);
  await prisma.$disconnect();
  await db.drop().catch(() => (code = 1));
}
process.exit(code);
