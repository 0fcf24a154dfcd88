/**
 * One measurement of bench:scale: N jobs pre-enqueued into a paused queue, P child
 * processes started and connected, then the queue resumed and timed until the last job
 * is done. Raw: plain BullMQ no-op workers (scale-raw-child.ts), done = N completed.
 * Bulwark: N single-entry audit.write jobs through the producer, Bulwark's workers
 * (worker-child.ts, as `bulwark start` without HTTP), done = N rows chained and committed.
 * Both on the same topology (one Redis or a cluster), built by lib/clients/redis.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type pg from 'pg';
import { Redis } from 'ioredis';
import { createRedis, type RedisClient, type RedisConfig } from '../lib/clients/redis.js';
import { AUDIT_WRITE_QUEUE } from '../lib/contracts/audit.js';
import { queuePrefixFor } from '../lib/redis-topology.js';
import { createProducer } from '../producers/index.js';
import { ensureBuilt } from '../scripts/build.mjs';
import { committedTotal, dropPrefix } from './bulwark.js';
import { benchEntry } from './entries.js';
import { pool, procCpuMs, randomPrefix, rate, sampleProcess, until } from './util.js';

const RAW_CHILD = fileURLToPath(new URL('../dist/bench/scale-raw-child.js', import.meta.url));
const BULWARK_CHILD = fileURLToPath(new URL('../dist/bench/worker-child.js', import.meta.url));

export interface Target {
  label: 'single' | 'cluster';
  redis: Required<RedisConfig>;
  /** The variables that put a child on this topology (REDIS_URL, REDIS_CLUSTER_NODES). */
  env: Record<string, string>;
}

export interface ScaleOptions {
  jobs: number;
  processes: number;
  /** Worker concurrency per process (raw: BullMQ's; Bulwark: AUDIT_WRITE_CONCURRENCY). */
  concurrency: number;
  tenants: readonly string[];
  databaseUrl: string;
  masterKeys: string;
  db: pg.Client;
  timeoutMs: number;
}

export interface ScaleResult {
  perSec: number;
  ms: number;
  /** Share of the machine's cores busy meanwhile. */
  machineBusy: number;
  /** CPU per job of the worker processes together, µs (from /proc, so not skewed by waiting for a core). */
  workerUsPerJob: number;
  /** CPU per job of every Redis server process of the topology (a cluster's replicas included), µs. */
  redisUsPerJob: number;
  /**
   * CPU of every postgres process on the machine while this ran, per job, µs. The server is
   * shared with whatever else runs: bench/scale.ts subtracts the rate the raw phase (which
   * does not touch Postgres) saw.
   */
  pgUsPerJob: number;
}

/** The pids of every Redis server behind `connection` (INFO server), to read their CPU from /proc. */
async function redisPids(connection: RedisClient): Promise<number[]> {
  const servers = connection instanceof Redis ? [connection] : connection.nodes('all');
  const infos = await Promise.all(servers.map((r) => r.info('server')));
  return infos.map((i) => Number(/process_id:(\d+)/.exec(i)?.[1])).filter((pid) => pid > 0);
}

const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + (procCpuMs(pid) ?? 0), 0);

/** CPU so far of every `postgres` process on the machine (the server is shared: see pgUsPerJob). */
function postgresCpu(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    const ms = procCpuMs(Number(name));
    if (ms !== undefined) cpu.set(Number(name), ms);
  }
  return cpu;
}

/** CPU the postgres processes used since `before` (backends started since count whole). */
function postgresCpuSince(before: Map<number, number>): number {
  let ms = 0;
  for (const [pid, now] of postgresCpu()) ms += now - (before.get(pid) ?? 0);
  return ms;
}

async function startChildren(file: string, count: number, env: Record<string, string>): Promise<ChildProcess[]> {
  await ensureBuilt();
  const children = Array.from({ length: count }, () =>
    fork(file, [], {
      env: { ...process.env, NODE_NO_WARNINGS: '1', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          child.on('error', () => undefined);
          child.once('exit', (code, signal) => reject(new Error(`bench child exited early (${code ?? signal})`)));
          child.on('message', (m: unknown) => (m as { event?: unknown }).event === 'started' && resolve());
        }),
    ),
  );
  return children;
}

async function stopChildren(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.connected) child.send({ cmd: 'stop' }, (err) => err && child.kill('SIGKILL'));
      else child.kill('SIGKILL');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** Resume `queue` with every child connected, and time until `done()`. */
async function timed(
  queue: Queue,
  jobs: number,
  timeoutMs: number,
  pids: { workers: number[]; redis: number[] },
  done: () => Promise<boolean>,
): Promise<ScaleResult> {
  const sampler = sampleProcess(process.pid);
  const [workers0, redis0, pg0] = [cpuOf(pids.workers), cpuOf(pids.redis), postgresCpu()];
  const t0 = Date.now();
  await queue.resume();
  const tEnd = await until(done, timeoutMs, async () => `jobs ${JSON.stringify(await queue.getJobCounts())}`, 20);
  const ms = tEnd - t0;
  const perJob = (cpuMs: number) => (cpuMs * 1000) / jobs;
  return {
    perSec: rate(jobs, ms),
    ms,
    machineBusy: sampler.stop().machineBusy,
    workerUsPerJob: perJob(cpuOf(pids.workers) - workers0),
    redisUsPerJob: perJob(cpuOf(pids.redis) - redis0),
    pgUsPerJob: perJob(postgresCpuSince(pg0)),
  };
}

export async function rawPhase(target: Target, o: ScaleOptions): Promise<ScaleResult> {
  const prefix = randomPrefix('scale-raw');
  const connection = createRedis(target.redis, 'bench-scale');
  const queue = new Queue('raw-noop', { connection, prefix: queuePrefixFor(prefix, target.redis.redis) });
  let children: ChildProcess[] = [];
  try {
    await queue.pause();
    for (let start = 0; start < o.jobs; start += 1000) {
      const size = Math.min(1000, o.jobs - start);
      await queue.addBulk(
        Array.from({ length: size }, (_x, k) => ({
          name: 'noop',
          data: { v: 1, entries: [benchEntry(o.tenants, start + k)] },
        })),
      );
    }
    children = await startChildren(RAW_CHILD, o.processes, {
      ...target.env,
      QUEUE_PREFIX: prefix,
      BENCH_RAW_CONCURRENCY: String(o.concurrency),
    });
    const pids = { workers: children.map((c) => c.pid!), redis: await redisPids(connection) };
    return await timed(queue, o.jobs, o.timeoutMs, pids, async () => (await queue.getCompletedCount()) >= o.jobs);
  } finally {
    await stopChildren(children);
    await cleanup(queue, connection, prefix);
  }
}

export async function bulwarkPhase(target: Target, o: ScaleOptions): Promise<ScaleResult> {
  const prefix = randomPrefix('scale-bulwark');
  const connection = createRedis(target.redis, 'bench-scale');
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection, prefix: queuePrefixFor(prefix, target.redis.redis) });
  const producer = createProducer({ connection, queuePrefix: prefix });
  let children: ChildProcess[] = [];
  try {
    await queue.pause();
    const before = await committedTotal(o.db);
    await pool(o.jobs, 100, (i) => producer.audit.write(benchEntry(o.tenants, i)));
    children = await startChildren(BULWARK_CHILD, o.processes, {
      ...target.env,
      QUEUE_PREFIX: prefix,
      DATABASE_URL: o.databaseUrl,
      MASTER_KEYS: o.masterKeys,
      AUDIT_WRITE_CONCURRENCY: String(o.concurrency),
    });
    const pids = { workers: children.map((c) => c.pid!), redis: await redisPids(connection) };
    return await timed(queue, o.jobs, o.timeoutMs, pids, async () => (await committedTotal(o.db)) >= before + o.jobs);
  } finally {
    await stopChildren(children);
    await producer.close();
    await cleanup(queue, connection, prefix);
  }
}

async function cleanup(queue: Queue, connection: RedisClient, prefix: string): Promise<void> {
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  // The cluster is the bench's own and goes with it; the shared Redis is cleaned by prefix.
  if (connection instanceof Redis) await dropPrefix(connection, prefix);
  await connection.quit().catch(() => connection.disconnect());
}
