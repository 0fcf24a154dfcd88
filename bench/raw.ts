/**
 * The raw baselines Bulwark is compared with, measured on the same Redis and Postgres:
 * a plain BullMQ no-op worker, plain-pg INSERT ... SELECT FROM unnest of chained rows, and
 * a plain BullMQ worker making one HTTP POST per job (the floor of an alert delivery).
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createSemaphore } from '../lib/semaphore.js';
import { chainedColumnBatches, unnestInsertSql } from './entries.js';
import { randomPrefix, rate, sampleProcess } from './util.js';

export interface RawBullmqResult {
  jobs: number;
  concurrency: number;
  addBulkPerSec: number;
  jobsPerSec: number;
  ms: number;
  /** This process's CPU per job (µs) and share of one core while the worker ran; machine busy share. */
  cpuUsPerJob: number;
  cpuShare: number;
  machineBusy: number;
}

/**
 * addBulk `jobs` jobs carrying `payload(i)`, then time a plain no-op Worker at
 * `concurrency` from run() to the last `completed` event. Random prefix, obliterated after.
 */
export async function rawBullmqNoop(
  redisUrl: string,
  jobs: number,
  concurrency: number,
  payload: (i: number) => object,
): Promise<RawBullmqResult> {
  const prefix = randomPrefix('raw');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('raw-noop', { connection, prefix });
  const addStart = performance.now();
  for (let start = 0; start < jobs; start += 1000) {
    const size = Math.min(1000, jobs - start);
    await queue.addBulk(Array.from({ length: size }, (_x, k) => ({ name: 'noop', data: payload(start + k) })));
  }
  const addMs = performance.now() - addStart;
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker('raw-noop', async () => undefined, {
    connection: workerConnection,
    prefix,
    concurrency,
    autorun: false,
  });
  let completed = 0;
  let failed = 0;
  const done = new Promise<void>((resolve) => {
    worker.on('completed', () => {
      if (++completed === jobs) resolve();
    });
    worker.on('failed', () => void failed++);
  });
  const sampler = sampleProcess(process.pid);
  const t0 = performance.now();
  void worker.run();
  await done;
  const ms = performance.now() - t0;
  const sample = sampler.stop();
  await worker.close();
  await workerConnection.quit();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  if (failed > 0) throw new Error(`raw no-op: ${failed} jobs failed`);
  return {
    jobs,
    concurrency,
    addBulkPerSec: rate(jobs, addMs),
    jobsPerSec: rate(jobs, ms),
    ms,
    cpuUsPerJob: (sample.cpuMs * 1000) / jobs,
    cpuShare: sample.cpuMs / ms,
    machineBusy: sample.machineBusy,
  };
}

export interface RawUnnestResult {
  rows: number;
  perStatement: number;
  rowsPerSec: number;
  ms: number;
}

/**
 * INSERT `rows` chained rows (hashes computed before the clock starts) into a scratch
 * copy of audit_log (same columns, defaults, indexes and tenant foreign key), one
 * autocommit statement of `perStatement` rows at a time, on one plain pg connection.
 */
export async function rawUnnestInsert(
  databaseUrl: string,
  tenants: readonly string[],
  rows: number,
  perStatement: number,
): Promise<RawUnnestResult> {
  const table = 'bench_unnest_scratch';
  const batches = chainedColumnBatches(tenants, rows, perStatement);
  const sql = unnestInsertSql(table);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(`CREATE TABLE ${table} (LIKE audit_log INCLUDING ALL)`);
    await client.query(`ALTER TABLE ${table} ADD FOREIGN KEY (tenant_id) REFERENCES tenants(id)`);
    const t0 = performance.now();
    for (const columns of batches) await client.query(sql, columns);
    const ms = performance.now() - t0;
    const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    if (Number(counted[0]?.n) !== rows) throw new Error(`raw unnest: expected ${rows} rows, found ${counted[0]?.n}`);
    await client.query(`DROP TABLE ${table}`);
    return { rows, perStatement, rowsPerSec: rate(rows, ms), ms };
  } finally {
    await client.end();
  }
}

/**
 * The least an alert delivery can cost with the parts the design prescribes, measured
 * raw: `jobs` jobs (addBulk, before the clock starts) consumed by a plain BullMQ Worker
 * at `concurrency`, each job making one `post()` with at most `cap` in flight, as the
 * per-channel cap allows Bulwark. No decision, no ledger, no signature: what is left
 * of a delivery once Bulwark's own work is taken out. Jobs per second.
 */
export async function rawBullmqPostFloor(
  redisUrl: string,
  jobs: number,
  concurrency: number,
  cap: number,
  post: () => Promise<void>,
): Promise<number> {
  const prefix = randomPrefix('raw-post');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('raw-post', { connection, prefix });
  for (let start = 0; start < jobs; start += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, jobs - start) }, (_x, k) => ({
        name: 'alert',
        data: { i: start + k, severity: 'warning', title: 'Disk almost full' },
      })),
    );
  }
  const slots = createSemaphore(cap);
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(
    'raw-post',
    async () => {
      const release = await slots.acquire(1);
      try {
        await post();
      } finally {
        release();
      }
    },
    { connection: workerConnection, prefix, concurrency, autorun: false },
  );
  let completed = 0;
  let failed = 0;
  const done = new Promise<void>((resolve) => {
    worker.on('completed', () => {
      if (++completed + failed === jobs) resolve();
    });
    worker.on('failed', () => {
      if (completed + ++failed === jobs) resolve();
    });
  });
  const t0 = performance.now();
  void worker.run();
  await done;
  const ms = performance.now() - t0;
  await worker.close();
  await workerConnection.quit();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  if (failed > 0) throw new Error(`raw BullMQ + POST: ${failed} jobs failed`);
  return rate(jobs, ms);
}
