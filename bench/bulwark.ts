/**
 * One Bulwark phase of the benchmark: pre-enqueue every job through the real producer
 * (on a fresh random queue prefix), THEN start Bulwark's workers in a child process and
 * time from the child's start to the moment the last row is committed (the chain heads,
 * updated in the same transaction as the rows, reach the expected total). The child's
 * resident memory is sampled from /proc every 100 ms meanwhile.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { ALERT_QUEUE } from '../lib/contracts/alert.js';
import { AUDIT_VERIFY_QUEUE, AUDIT_WRITE_QUEUE } from '../lib/contracts/audit.js';
import { createProducer } from '../producers/index.js';
import { deleteKeys } from '../test/helpers/queues.js';
import { benchEntry } from './entries.js';
import { pool, randomPrefix, rate, sampleProcess, until } from './util.js';

import { ensureBuilt } from '../scripts/build.mjs';
const CHILD = fileURLToPath(new URL('../dist/bench/worker-child.js', import.meta.url));

export interface PhaseOptions {
  label: string;
  databaseUrl: string;
  redisUrl: string;
  masterKeys: string;
  tenants: readonly string[];
  jobs: number;
  entriesPerJob: number;
  /** Producer calls in flight while pre-enqueuing. */
  enqueueConcurrency: number;
  /** Used to poll the committed total. */
  db: pg.Client;
  timeoutMs: number;
  /** Directory for a V8 CPU profile of the worker child, if wanted. */
  cpuProfDir?: string;
}

export interface PhaseResult {
  entries: number;
  jobs: number;
  enqueuePerSec: number;
  ms: number;
  entriesPerSec: number;
  jobsPerSec: number;
  rssMaxMb: number;
  rssHwmMb: number;
  /** Worker CPU per entry (µs) and its share of one core, from start to the last commit. */
  cpuUsPerEntry: number;
  cpuShare: number;
  /** Share of the machine's cores busy meanwhile (worker, Redis, Postgres, anything else). */
  machineBusy: number;
}

export async function committedTotal(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT coalesce(sum(last_seq), 0)::text AS n FROM audit_chain_heads');
  return Number(rows[0]?.n ?? 0);
}

export async function startChild(
  options: Pick<PhaseOptions, 'label' | 'databaseUrl' | 'redisUrl' | 'masterKeys' | 'cpuProfDir'>,
  prefix: string,
): Promise<{ child: ChildProcess; started: Promise<number> }> {
  await ensureBuilt();
  // BENCH_WORKER_NODE_ARGS: extra Node flags for the worker child, e.g. "--max-semi-space-size=32".
  // The child runs the compiled dist/ build, as `bulwark start` does (scripts/build.mjs).
  const execArgv = [...(process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  if (options.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}/${options.label}`);
  const child = fork(CHILD, [], {
    execArgv,
    env: {
      ...process.env,
      NODE_NO_WARNINGS: '1',
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      QUEUE_PREFIX: prefix,
      MASTER_KEYS: options.masterKeys,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('error', () => undefined); // IPC errors of a dying child; its exit is what we act on

  const started = new Promise<number>((resolve, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`worker child exited early (code ${code}, signal ${signal})`)),
    );
    child.on('message', (msg: unknown) => {
      const m = msg as { event?: unknown; t0?: unknown };
      if (m.event === 'started' && typeof m.t0 === 'number') resolve(m.t0);
    });
  });
  return { child, started };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A child that crashed may have closed its IPC channel before its exit event.
  if (child.connected) child.send({ cmd: 'stop' }, (err) => err && child.kill('SIGKILL'));
  else child.kill('SIGKILL');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

export async function runBulwarkPhase(options: PhaseOptions): Promise<PhaseResult> {
  const { jobs, entriesPerJob, tenants } = options;
  const entries = jobs * entriesPerJob;
  const prefix = randomPrefix(options.label);
  const producer = createProducer({ redisUrl: options.redisUrl, queuePrefix: prefix });
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix });
  let child: ChildProcess | undefined;
  try {
    const before = await committedTotal(options.db);
    const enqueueStart = performance.now();
    await pool(jobs, options.enqueueConcurrency, async (j) => {
      const base = j * entriesPerJob;
      if (entriesPerJob === 1) await producer.audit.write(benchEntry(tenants, base));
      else
        await producer.audit.writeMany(Array.from({ length: entriesPerJob }, (_x, k) => benchEntry(tenants, base + k)));
    });
    const enqueueMs = performance.now() - enqueueStart;

    const started = await startChild(options, prefix);
    child = started.child;
    const t0 = await started.started;
    // From the child's start (imports done), like the time window.
    const sampler = sampleProcess(child.pid!);
    const target = before + entries;
    const worker = child;
    const tEnd = await until(
      async () => {
        if (worker.exitCode !== null || worker.signalCode !== null) {
          throw new Error(
            `${options.label}: worker child exited during the run (code ${worker.exitCode}, signal ${worker.signalCode})`,
          );
        }
        return (await committedTotal(options.db)) >= target;
      },
      options.timeoutMs,
      async () =>
        `${options.label}: ${(await committedTotal(options.db)) - before}/${entries} committed; jobs ${JSON.stringify(await queue.getJobCounts())}`,
    );
    const sample = sampler.stop();
    const ms = tEnd - t0;
    const counts = await queue.getJobCounts('failed');
    if ((counts.failed ?? 0) > 0) throw new Error(`${options.label}: ${counts.failed} jobs failed`);
    return {
      entries,
      jobs,
      enqueuePerSec: rate(entries, enqueueMs),
      ms,
      entriesPerSec: rate(entries, ms),
      jobsPerSec: rate(jobs, ms),
      rssMaxMb: sample.maxMb,
      rssHwmMb: sample.hwmMb,
      cpuUsPerEntry: (sample.cpuMs * 1000) / entries,
      cpuShare: sample.cpuMs / ms,
      machineBusy: sample.machineBusy,
    };
  } finally {
    if (child) await stopChild(child);
    await producer.close();
    await queue.close();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}

/** Obliterate every queue Bulwark uses under `prefix`, then delete any key left under it. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  for (const name of [AUDIT_WRITE_QUEUE, AUDIT_VERIFY_QUEUE, ALERT_QUEUE]) {
    const q = new Queue(name, { connection: redis, prefix });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
  }
  await deleteKeys(redis, prefix);
}
