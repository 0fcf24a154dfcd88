/**
 * `npm run bench:scale`: audit write throughput with 1, 2 and 4 worker processes, on one
 * Redis and on a Redis Cluster of three masters with a replica each (started here, on
 * free ports), each as a ratio to raw BullMQ no-op jobs on the same topology and process
 * count, measured in this same run (bench/scale-phase.ts says how each is timed).
 *
 * On a machine of few cores the absolute figures cannot grow with processes (the workers,
 * Redis and Postgres share the cores); the ratios show where the overhead is, and
 * docs/going-to-production.md#capacity builds a capacity model from them. Sizes:
 * BENCH_SCALE_N (jobs per measurement, default 20000), BENCH_SCALE_PROCESSES (default
 * 1,2,4), BENCH_SCALE_TOPOLOGIES (default single,cluster), BENCH_SCALE_TENANTS (8),
 * BENCH_SCALE_CONCURRENCY (per process, default the audit-write policy's), BENCH_TIMEOUT_MS.
 * Quick: BENCH_SCALE_N=2000 BENCH_SCALE_PROCESSES=1,2 npm run bench:scale
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { verifyChains } from '../lib/audit/verify.js';
import { createPrisma } from '../lib/clients/prisma.js';
import { loadConfig } from '../lib/config.js';
import { auditWritePolicy } from '../lib/contracts/audit.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { startRedisCluster, type RedisClusterHandle } from '../test/helpers/redis-cluster.js';
import { bulwarkPhase, rawPhase, type ScaleOptions, type ScaleResult, type Target } from './scale-phase.js';
import { envInt, fmtInt, log } from './util.js';

const N = envInt('BENCH_SCALE_N', 20_000);
const TENANTS = envInt('BENCH_SCALE_TENANTS', 8);
const CONCURRENCY = envInt('BENCH_SCALE_CONCURRENCY', auditWritePolicy.concurrency);
const TIMEOUT_MS = envInt('BENCH_TIMEOUT_MS', 120_000);
const list = (name: string, fallback: string) => (process.env[name] || fallback).split(',').map((s) => s.trim());
const PROCESSES = list('BENCH_SCALE_PROCESSES', '1,2,4').map(Number);
const TOPOLOGIES = list('BENCH_SCALE_TOPOLOGIES', 'single,cluster');
if (PROCESSES.some((p) => !Number.isInteger(p) || p < 1))
  throw new Error('BENCH_SCALE_PROCESSES: whole numbers, e.g. 1,2,4');
if (TOPOLOGIES.some((t) => t !== 'single' && t !== 'cluster'))
  throw new Error('BENCH_SCALE_TOPOLOGIES: single and/or cluster');
const config = loadConfig(process.env);
const MASTER_KEYS = process.env.MASTER_KEYS || `bench:${randomBytes(32).toString('base64url')}=`;
const startLoad = loadavg()[0]!;

interface Row {
  topology: string;
  processes: number;
  raw: ScaleResult;
  bulwark: ScaleResult;
}

async function target(label: string, cluster: RedisClusterHandle | undefined): Promise<Target> {
  if (label === 'single') return { label, redis: { redisUrl: config.redisUrl, redis: { mode: 'single' } }, env: {} };
  const nodes = cluster!.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  return {
    label: 'cluster',
    redis: { redisUrl: 'redis://127.0.0.1:6379', redis: { mode: 'cluster', nodes } },
    env: { REDIS_CLUSTER_NODES: cluster!.nodesEnv },
  };
}

const db = await createTestDatabase();
const prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
const client = new pg.Client({ connectionString: db.url });
await client.connect();
const rows: Row[] = [];
let cluster: RedisClusterHandle | undefined;
let failed = false;
try {
  const tenants: string[] = [];
  for (let i = 0; i < TENANTS; i++) tenants.push((await createTenant(prisma, { name: `scale-${i}` })).id);
  log(
    `bench:scale: ${N} jobs per measurement, concurrency ${CONCURRENCY} per process, ${TENANTS} tenants; ${cpus().length} cores`,
  );
  for (const label of TOPOLOGIES) {
    if (label === 'cluster') {
      log('starting a Redis Cluster: 3 masters, 1 replica each');
      cluster = await startRedisCluster();
    }
    const t = await target(label, cluster);
    for (const processes of PROCESSES) {
      const o: ScaleOptions = {
        jobs: N,
        processes,
        concurrency: CONCURRENCY,
        tenants,
        databaseUrl: db.url,
        masterKeys: MASTER_KEYS,
        db: client,
        timeoutMs: TIMEOUT_MS,
      };
      const raw = await rawPhase(t, o);
      const bulwark = await bulwarkPhase(t, o);
      rows.push({ topology: label, processes, raw, bulwark });
      log(
        `  ${label.padEnd(7)} ${processes} process(es): raw no-op ${fmtInt(raw.perSec)} jobs/s, audit.write ${fmtInt(bulwark.perSec)} entries/s, ratio ${(bulwark.perSec / raw.perSec).toFixed(2)} (machine ${(bulwark.machineBusy * 100).toFixed(0)}% busy); CPU per job: workers ${us(raw.workerUsPerJob)} raw, ${us(bulwark.workerUsPerJob)} audit; Redis ${us(raw.redisUsPerJob)} raw, ${us(bulwark.redisUsPerJob)} audit; Postgres ${us(pgAudit({ raw, bulwark }))} audit`,
      );
    }
    await cluster?.stop();
    cluster = undefined;
  }
  const report = await verifyChains(prisma);
  const entries = report.tenants.reduce((n, x) => n + x.entries, 0);
  log(`chains: ${report.ok ? 'ok' : 'BROKEN'}, ${report.tenants.length} tenants, ${entries} entries`);
  failed = !report.ok;
  summary(rows);
} finally {
  await cluster?.stop();
  await client.end();
  await prisma.$disconnect();
  await db.drop();
}
if (failed) process.exit(1);

/** Postgres CPU per audit entry, less the rate of everything else on the server (seen while the raw phase ran). */
function pgAudit(r: Pick<Row, 'raw' | 'bulwark'>): number {
  const background = (r.raw.pgUsPerJob * r.raw.perSec) / 1e6; // CPU-seconds per second, others'
  return Math.max(0, r.bulwark.pgUsPerJob - (background * 1e6) / r.bulwark.perSec);
}

function us(n: number): string {
  return `${n.toFixed(0)} µs`;
}

function summary(rs: Row[]): void {
  log('');
  log(
    `summary (${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}, ${startLoad.toFixed(1)} at start; figures from a shared, loaded machine)`,
  );
  log(
    '  topology  procs   raw jobs/s   audit entries/s   ratio   vs single (raw, audit)   CPU µs/job: workers raw, audit; Redis raw, audit; Postgres audit',
  );
  for (const r of rs) {
    const single = rs.find((s) => s.topology === 'single' && s.processes === r.processes);
    const vs =
      r.topology === 'cluster' && single
        ? `${(r.raw.perSec / single.raw.perSec).toFixed(2)}, ${(r.bulwark.perSec / single.bulwark.perSec).toFixed(2)}`
        : '';
    log(
      `  ${r.topology.padEnd(8)}  ${String(r.processes).padStart(5)}  ${fmtInt(r.raw.perSec)}     ${fmtInt(r.bulwark.perSec)}        ${(r.bulwark.perSec / r.raw.perSec).toFixed(2)}    ${vs.padEnd(20)}   ${[r.raw.workerUsPerJob, r.bulwark.workerUsPerJob, r.raw.redisUsPerJob, r.bulwark.redisUsPerJob, pgAudit(r)].map((n) => n.toFixed(0).padStart(5)).join(' ')}`,
    );
  }
}
