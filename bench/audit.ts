/**
 * `npm run bench:audit`: Bulwark's audit path against raw baselines, all measured in
 * this one run on the same Redis and Postgres.
 *
 *   (a) raw BullMQ: addBulk N jobs, then a plain no-op Worker at the audit-write
 *       concurrency; jobs/s from worker start to the last completion.
 *   (b) audit.write: N single-entry jobs pre-enqueued through the producer, THEN
 *       Bulwark's workers started (child process); entries/s from start to the last
 *       chained row committed. Compared with (a): same pre-enqueued shape.
 *   (c) audit.writeMany: BENCH_MANY_JOBS jobs of 100 entries, measured like (b).
 *   (d) raw INSERT ... SELECT FROM unnest of the same rows (precomputed hashes) into a
 *       scratch copy of audit_log, 500 rows per statement, plain pg.
 *   (e) the worker child's resident memory (VmRSS every 100 ms, and VmHWM) during (b), (c),
 *       and its CPU per entry (from /proc), which shows whether the worker is CPU-bound.
 * Then the chains are verified. Sizes: BENCH_N, BENCH_MANY_JOBS, BENCH_MANY_PER_JOB,
 * BENCH_TENANTS, BENCH_UNNEST_ROWS_PER_STATEMENT. BENCH_CPU_PROF=<dir> profiles the
 * worker child; BENCH_WORKER_NODE_ARGS adds Node flags to it; BENCH_COLD_WORKER=1 leaves the
 * load of Prisma's query compiler inside the measured window (bench/worker-child.ts).
 * AUDIT_WRITE_CONCURRENCY and AUDIT_BATCH_MAX apply to both sides. BENCH_STRICT=1 exits 1
 * when a target is missed.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createPrisma } from '../lib/clients/prisma.js';
import { loadConfig } from '../lib/config.js';
import { auditWritePolicy } from '../lib/contracts/audit.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/db.js';
import { verifyChains } from '../lib/audit/verify.js';
import { runBulwarkPhase, type PhaseResult } from './bulwark.js';
import { benchEntry } from './entries.js';
import { rawBullmqNoop, rawUnnestInsert, type RawBullmqResult, type RawUnnestResult } from './raw.js';
import { envInt, fmtInt, log } from './util.js';

const N = envInt('BENCH_N', 20_000);
const MANY_JOBS = envInt('BENCH_MANY_JOBS', 300);
const MANY_PER_JOB = envInt('BENCH_MANY_PER_JOB', 100);
const TENANTS = envInt('BENCH_TENANTS', 4);
const ROWS_PER_STATEMENT = envInt('BENCH_UNNEST_ROWS_PER_STATEMENT', 500);
const TIMEOUT_MS = envInt('BENCH_TIMEOUT_MS', 60_000);
const config = loadConfig(process.env);
const CONCURRENCY = config.auditWriteConcurrency ?? auditWritePolicy.concurrency;
/** A Fernet key (32 random bytes, URL-safe base64): startBulwark refuses to run without one. */
const MASTER_KEYS = process.env.MASTER_KEYS || `bench:${randomBytes(32).toString('base64url')}=`;

const cpu = (usPer: number, share: number, machine: number) =>
  `worker CPU ${usPer.toFixed(0)} µs/entry (${(share * 100).toFixed(0)}% of a core), machine ${(machine * 100).toFixed(0)}% busy`;

interface Results {
  raw: RawBullmqResult;
  single: PhaseResult;
  many: PhaseResult;
  unnest: RawUnnestResult;
  chain: { ok: boolean; tenants: number; entries: number; problems: string[] };
}

async function run(db: TestDatabase): Promise<Results> {
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const tenants: string[] = [];
    for (let i = 0; i < TENANTS; i++) tenants.push((await createTenant(prisma, { name: `bench-${i}` })).id);
    const phase = {
      databaseUrl: db.url,
      redisUrl: config.redisUrl,
      masterKeys: MASTER_KEYS,
      tenants,
      db: client,
      timeoutMs: TIMEOUT_MS,
      cpuProfDir: process.env.BENCH_CPU_PROF || undefined,
    };

    log(`(a) raw BullMQ no-op: ${N} jobs, concurrency ${CONCURRENCY}`);
    const raw = await rawBullmqNoop(config.redisUrl, N, CONCURRENCY, (i) => ({
      v: 1,
      entries: [benchEntry(tenants, i)],
    }));
    log(
      `    addBulk ${fmtInt(raw.addBulkPerSec)} jobs/s, processed ${fmtInt(raw.jobsPerSec)} jobs/s (${raw.ms.toFixed(0)} ms); ${cpu(raw.cpuUsPerJob, raw.cpuShare, raw.machineBusy)}`,
    );

    log(`(b) audit.write: ${N} single-entry jobs pre-enqueued, then the worker started`);
    const single = await runBulwarkPhase({
      ...phase,
      label: 'single',
      jobs: N,
      entriesPerJob: 1,
      enqueueConcurrency: 100,
    });
    log(
      `    enqueue ${fmtInt(single.enqueuePerSec)} entries/s, processed ${fmtInt(single.entriesPerSec)} entries/s (${single.ms.toFixed(0)} ms), worker RSS max ${single.rssMaxMb.toFixed(0)} MB; ${cpu(single.cpuUsPerEntry, single.cpuShare, single.machineBusy)}`,
    );

    log(`(c) audit.writeMany: ${MANY_JOBS} jobs x ${MANY_PER_JOB} entries pre-enqueued, then the worker started`);
    const many = await runBulwarkPhase({
      ...phase,
      label: 'many',
      jobs: MANY_JOBS,
      entriesPerJob: MANY_PER_JOB,
      enqueueConcurrency: 16,
    });
    log(
      `    enqueue ${fmtInt(many.enqueuePerSec)} entries/s, processed ${fmtInt(many.entriesPerSec)} entries/s (${many.ms.toFixed(0)} ms), worker RSS max ${many.rssMaxMb.toFixed(0)} MB; ${cpu(many.cpuUsPerEntry, many.cpuShare, many.machineBusy)}`,
    );

    const rows = MANY_JOBS * MANY_PER_JOB;
    log(`(d) raw INSERT ... SELECT FROM unnest: ${rows} rows, ${ROWS_PER_STATEMENT} per statement`);
    const unnest = await rawUnnestInsert(db.url, tenants, rows, ROWS_PER_STATEMENT);
    log(`    ${fmtInt(unnest.rowsPerSec)} rows/s (${unnest.ms.toFixed(0)} ms)`);

    const report = await verifyChains(prisma);
    const chain = {
      ok: report.ok,
      tenants: report.tenants.length,
      entries: report.tenants.reduce((n, t) => n + t.entries, 0),
      problems: report.tenants
        .filter((t) => !t.ok)
        .map((t) => `${t.tenantId} seq ${t.firstBad?.seq}: ${t.firstBad?.problem} (${t.firstBad?.detail})`),
    };
    return { raw, single, many, unnest, chain };
  } finally {
    await client.end();
    await prisma.$disconnect();
  }
}

function summary(r: Results): boolean {
  const ratioSingle = r.single.entriesPerSec / r.raw.jobsPerSec;
  const ratioMany = r.many.entriesPerSec / r.unnest.rowsPerSec;
  const rss = Math.max(r.single.rssMaxMb, r.many.rssMaxMb, r.single.rssHwmMb, r.many.rssHwmMb);
  const checks = [ratioSingle >= 0.7, r.many.entriesPerSec >= 25_000, ratioMany >= 0.4, rss < 250];
  const mark = (ok: boolean | undefined) => (ok ? 'ok' : 'MISS');
  log('');
  log(
    `summary (concurrency ${CONCURRENCY}, ${TENANTS} tenants, AUDIT_BATCH_MAX ${config.auditBatchMax}; ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at start ${startLoad.toFixed(1)})`,
  );
  log(`  raw bullmq no-op      ${fmtInt(r.raw.jobsPerSec)} jobs/s`);
  log(
    `  audit.write e2e       ${fmtInt(r.single.entriesPerSec)} entries/s   ratio ${ratioSingle.toFixed(2)} to raw bullmq (target >= 0.7)  ${mark(checks[0])}`,
  );
  log(
    `  audit.writeMany x${MANY_PER_JOB}  ${fmtInt(r.many.entriesPerSec)} entries/s   (target >= 25000)  ${mark(checks[1])}   ${fmtInt(r.many.jobsPerSec).trim()} jobs/s`,
  );
  log(
    `  raw unnest insert     ${fmtInt(r.unnest.rowsPerSec)} rows/s      writeMany ratio ${ratioMany.toFixed(2)} (target >= 0.4)  ${mark(checks[2])}`,
  );
  log(
    `  worker RSS max        ${fmtInt(rss)} MB           (write ${r.single.rssMaxMb.toFixed(0)}, writeMany ${r.many.rssMaxMb.toFixed(0)}, VmHWM ${Math.max(r.single.rssHwmMb, r.many.rssHwmMb).toFixed(0)}; target < 250)  ${mark(checks[3])}`,
  );
  log(
    `  worker CPU per entry  raw ${r.raw.cpuUsPerJob.toFixed(0)} µs/job, write ${r.single.cpuUsPerEntry.toFixed(0)} µs, writeMany ${r.many.cpuUsPerEntry.toFixed(0)} µs (${(r.single.cpuShare * 100).toFixed(0)}% / ${(r.many.cpuShare * 100).toFixed(0)}% of a core)`,
  );
  log(
    `  enqueue (producer)    ${fmtInt(r.single.enqueuePerSec)} entries/s single, ${fmtInt(r.many.enqueuePerSec).trim()} entries/s x${MANY_PER_JOB}; raw addBulk ${fmtInt(r.raw.addBulkPerSec).trim()} jobs/s`,
  );
  log(
    `  chain verify          ${r.chain.ok ? 'ok' : 'BROKEN'}: ${r.chain.tenants} tenants, ${r.chain.entries} entries`,
  );
  for (const p of r.chain.problems) log(`    broken: ${p}`);
  return checks.every(Boolean);
}

const startLoad = loadavg()[0]!;
let code = 0;
const db = await createTestDatabase('bulwark_bench');
try {
  const results = await run(db);
  const met = summary(results);
  if (!results.chain.ok) code = 1;
  else if (!met && process.env.BENCH_STRICT === '1') code = 1;
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  code = 1;
} finally {
  await db.drop().catch((err: unknown) => {
    process.stderr.write(`could not drop ${db.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    code = 1;
  });
}
process.exit(code);
