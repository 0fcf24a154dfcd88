/**
 * One measurement of bench:scale: N jobs pre-enqueued into a paused queue, P child
 * processes started and connected, then the queue resumed and timed until the last job
 * is done. Raw: plain BullMQ no-op workers (scale-raw-child.ts), done = N completed.
 * Bulwark: N single-entry audit.write jobs through the producer, Bulwark's workers
 * (worker-child.ts, as `bulwark start` without HTTP), done = N rows chained and committed.
 * Both on the same topology (one Redis or a cluster), built by lib/clients/redis.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
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
import { pool, randomPrefix, rate, sampleProcess, until } from './util.js';

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
async function timed(queue: Queue, jobs: number, timeoutMs: number, done: () => Promise<boolean>) {
  const sampler = sampleProcess(process.pid);
  const t0 = Date.now();
  await queue.resume();
  const tEnd = await until(done, timeoutMs, async () => `jobs ${JSON.stringify(await queue.getJobCounts())}`, 20);
  const ms = tEnd - t0;
  return { perSec: rate(jobs, ms), ms, machineBusy: sampler.stop().machineBusy };
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
    return await timed(queue, o.jobs, o.timeoutMs, async () => (await queue.getCompletedCount()) >= o.jobs);
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
    return await timed(queue, o.jobs, o.timeoutMs, async () => (await committedTotal(o.db)) >= before + o.jobs);
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
