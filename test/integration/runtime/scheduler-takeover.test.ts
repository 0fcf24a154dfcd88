// Exactly one scheduler across processes, with takeover: two `bulwark start --role
// scheduler` processes (the real CLI) on one queue prefix, a 2 s lease. One is active,
// the other stands by. SIGKILL the active one: the standby takes over once its lease
// expires, writes nothing that was in place, and every schedule still has exactly one
// run to come (the same one: nothing doubled, nothing lost). A run lost from Redis is
// repaired by the active scheduler, once. A third process standing by takes over when
// the active one stops on SIGTERM.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { schedulerKeys } from '../../../app/runtime/scheduler.js';
import { registry } from '../../../workers/registry.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, randomPrefix, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { killWorker, scrapeMetric, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const prefix = randomPrefix('sched');
const schedules = registry.flatMap((r) => (r.job.schedule ? [{ id: r.job.schedule.id, queue: r.job.queue.name }] : []));
let db: TestDatabase;
let redis: Redis;
const queues = new Map<string, Queue>();
const procs: WorkerProcess[] = [];
let env: Record<string, string>;

const spawnScheduler = async () => {
  const p = await spawnWorker(env, { cli: true, args: ['--role', 'scheduler'], readyTimeoutMs: 60_000 });
  procs.push(p);
  return p;
};
const stateOf = async (p: WorkerProcess) =>
  ((await (await fetch(`${p.url}/readyz`)).json()) as { scheduler?: string }).scheduler;

/** Per schedule, the ids of its runs still to come (or under way). */
async function pendingRuns(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const { id, queue } of schedules) {
    const jobs = await queues.get(queue)!.getJobs(['delayed', 'waiting', 'prioritized', 'active']);
    out[id] = jobs
      .map((j) => j.id!)
      .filter((jid) => jid.startsWith(`repeat:${id}:`))
      .sort();
  }
  return out;
}
const onePerSchedule = (runs: Record<string, string[]>) => Object.entries(runs).every(([, ids]) => ids.length === 1);

test.before(
  setup(async () => {
    db = await createTestDatabase();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    for (const { queue } of schedules)
      if (!queues.has(queue)) queues.set(queue, new Queue(queue, { connection: redis, prefix }));
    env = workerEnv(db.url, prefix, { SCHEDULER_LEASE_MS: '2000', LOG_LEVEL: 'info' });
  }),
);
test.after(
  cleanup([
    ['processes', () => Promise.all(procs.map((p) => killWorker(p)))],
    ['queues', () => Promise.all([...queues.values()].map((q) => q.close()))],
    ['obliterate', () => obliterateQueues(prefix)],
    ['redis', () => redis?.quit()],
    ['database', () => db?.drop()],
  ]),
);

test('one of two scheduler processes is active, the other stands by; every schedule has one run to come', async () => {
  const a = await spawnScheduler();
  const b = await spawnScheduler();
  assert.equal([await stateOf(a), await stateOf(b)], ['active', 'standby']);
  assert.match(String(await redis.get(schedulerKeys(prefix).lease)), `:${a.pid}:`);
  const runs = await pendingRuns();
  assert.ok(onePerSchedule(runs), JSON.stringify(runs));
  assert.is(await scrapeMetric(a.url, 'bulwark_scheduler_upserts_total'), schedules.length);
  assert.is(await scrapeMetric(b.url, 'bulwark_scheduler_upserts_total'), 0);
});

test('SIGKILL the active scheduler: the standby takes over, and no run is doubled or lost', async () => {
  const [a, b] = procs as [WorkerProcess, WorkerProcess];
  const before = await pendingRuns();
  await killWorker(a);
  await waitFor(async () => (await stateOf(b)) === 'active', 'the standby to take over', 30_000, 100);
  assert.match(String(await redis.get(schedulerKeys(prefix).lease)), `:${b.pid}:`);
  assert.is(await scrapeMetric(b.url, 'bulwark_scheduler_leader'), 1);
  // Everything was in place: the new scheduler wrote nothing, and the runs are the same ones.
  assert.is(await scrapeMetric(b.url, 'bulwark_scheduler_upserts_total'), 0);
  assert.equal(await pendingRuns(), before);
  assert.ok(b.lines.some((l) => l.includes('"event":"scheduler_leader"')));
});

test('a run lost from Redis is repaired by the active scheduler, once', async () => {
  const b = procs[1]!;
  const sweep = schedules.find((s) => s.id === 'alert-sweep')!;
  const [runId] = (await pendingRuns())[sweep.id]!;
  // Behind BullMQ's back (it refuses to remove a scheduler's run), as a Redis failover
  // that lost the write would leave it: the schedule points at a run that is not there.
  // (The sweep's first run is due at once, so it waits in the list; later ones are delayed.)
  await redis.lrem(`${prefix}:${sweep.queue}:wait`, 0, runId!);
  await redis.zrem(`${prefix}:${sweep.queue}:delayed`, runId!);
  await redis.del(`${prefix}:${sweep.queue}:${runId!}`);
  assert.is((await pendingRuns())[sweep.id]!.length, 0);
  await waitFor(async () => (await pendingRuns())[sweep.id]!.length === 1, 'the sweep schedule repaired', 30_000, 100);
  const runs = await pendingRuns();
  assert.ok(onePerSchedule(runs), JSON.stringify(runs));
  assert.is(await scrapeMetric(b.url, 'bulwark_scheduler_upserts_total{reason="repaired"}'), 1);
});

test('SIGTERM the active scheduler: it gives the lease up and a standby takes over', async () => {
  const b = procs[1]!;
  const c = await spawnScheduler();
  assert.is(await stateOf(c), 'standby');
  b.kill('SIGTERM');
  assert.is((await b.exited).code, 0);
  await waitFor(async () => (await stateOf(c)) === 'active', 'the third process to take over', 30_000, 100);
  const runs = await pendingRuns();
  assert.ok(onePerSchedule(runs), JSON.stringify(runs));
});

test.run();
