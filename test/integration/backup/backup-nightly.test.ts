// The backup schedules on the real services: the scheduler registers the nightly backup
// (BACKUP_CRON) and the restore drill (RESTORE_DRILL_CRON) in UTC; the nightly job adds a
// backup-then-prune flow whose prune waits for the backup, then prunes by retention
// (real backup worker, real upkeep worker, s3rver, Postgres); adding it again for the same
// tick adds nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue, Worker, type Job } from 'bullmq';
import { createBackup } from '../../../lib/backup/create.js';
import { listBackups } from '../../../lib/backup/list.js';
import type { AppContext } from '../../../lib/context.js';
import { BACKUP_QUEUE } from '../../../lib/contracts/backup.js';
import { BACKUP_UPKEEP_QUEUE } from '../../../lib/contracts/drill.js';
import { processBackup } from '../../../workers/backup/processor.js';
import { addNightlyFlow } from '../../../workers/backup/nightly.js';
import type { PruneJobResult } from '../../../workers/backup/upkeep.js';
import { backupNightlyJob, restoreDrillJob } from '../../../lib/contracts/drill.js';
import { registry } from '../../../workers/registry.js';
import { createContext } from '../../../app/main.js';
import { createWorkers, type ProcessWorkers } from '../../../app/workers.js';
import { startScheduler } from '../../../app/runtime/scheduler.js';
import { startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { testConfig, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

let h: BackupHarness;
let ctx: AppContext;
let backupQueue: Queue;
let upkeepQueue: Queue;
let jobs: ProcessWorkers;
const workers: Array<{ close(): Promise<void> }> = [];

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 1, entries: 10 });
    ctx = createContext(
      testConfig(h.db.url, {
        ...h.env,
        BACKUP_CRON: '15 2 * * *',
        RESTORE_DRILL_CRON: '30 4 * * 1',
        BACKUP_KEEP_DAILY: '1',
        BACKUP_KEEP_WEEKLY: '0',
        BACKUP_KEEP_MONTHLY: '0',
        LOG_LEVEL: 'silent',
      }),
    );
    backupQueue = new Queue(BACKUP_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
    upkeepQueue = new Queue(BACKUP_UPKEEP_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
    // The process's workers and queue handles, from the registry as `bulwark start` builds them.
    jobs = createWorkers(ctx, registry);
  }),
);
test.after(
  cleanup([
    ['workers', () => Promise.all([...workers, ...(jobs?.workers ?? [])].map((w) => w.close()))],
    ['process queues', () => Promise.all((jobs?.queues ?? []).map((q) => q.close()))],
    ['queues', () => Promise.all([backupQueue?.close(), upkeepQueue?.close()])],
    ['obliterate', () => obliterateQueues(ctx.config.queuePrefix)],
    ['prisma', () => ctx?.prisma.$disconnect()],
    ['pool', () => ctx?.pg.end()],
    ['redis', () => ctx?.redis.quit()],
    ['harness', () => h?.close()],
  ]),
);

test('backup schedules: the scheduler registers the nightly backup and the restore drill in UTC', async () => {
  const scheduler = await startScheduler(ctx, registry, jobs.queue);
  try {
    const nightly = await upkeepQueue.getJobScheduler(backupNightlyJob.schedule!.id);
    const drill = await upkeepQueue.getJobScheduler(restoreDrillJob.schedule!.id);
    assert.is(nightly?.pattern, '15 2 * * *');
    assert.is(nightly?.tz, 'UTC');
    assert.is(nightly?.name, 'nightly');
    assert.is(drill?.pattern, '30 4 * * 1');
    assert.is(drill?.name, 'drill');
    // Next runs: 02:15 UTC of some day; a Monday 04:30 UTC.
    const next = new Date(Number(nightly!.next));
    assert.is(next.getUTCHours() * 60 + next.getUTCMinutes(), 2 * 60 + 15);
    const nextDrill = new Date(Number(drill!.next));
    assert.equal([nextDrill.getUTCDay(), nextDrill.getUTCHours(), nextDrill.getUTCMinutes()], [1, 4, 30]);
    // A second start upserts: still one of each.
    await (await startScheduler(ctx, registry, jobs.queue)).close();
    assert.is((await upkeepQueue.getJobSchedulers()).length, 2);
  } finally {
    await scheduler.close();
  }
});

test('backup schedules: the nightly flow backs up, then prunes by retention; the same tick adds it once', async () => {
  const earlier = [
    (await createBackup(h.ctx, { kind: 'database' })).id,
    (await createBackup(h.ctx, { kind: 'database' })).id,
  ];
  const tick = new Date(Date.UTC(2026, 11, 7, 1, 0, 0));
  // The scheduler's job for that tick, run by the process's upkeep worker.
  const nightlyJob = await upkeepQueue.add('nightly', { v: 1 }, { jobId: 'nightly-tick', prevMillis: tick.getTime() });
  const upkeep = jobs.workers.find((w) => w.name === BACKUP_UPKEEP_QUEUE)!;
  void upkeep.run();
  await waitFor(async () => (await nightlyJob.getState()) === 'completed', 'the nightly job');
  const again = await addNightlyFlow(ctx.redis, ctx.config.queuePrefix, tick);
  assert.equal(again, {
    backupJobId: 'nightly-20261207T010000000Z',
    objectsJobId: 'nightly-objects-20261207T010000000Z',
    pruneJobId: 'prune-after-20261207T010000000Z',
  });
  const waiting = await backupQueue.getJobs(['waiting']);
  assert.is(waiting.length, 2, 'one database and one objects backup job, however often the flow is added');
  // Named as the catalogue names the job: Bulwark's own workers fail any other name as unknown.
  assert.equal(waiting.map((j) => [j.name, (j.data as { kind: string }).kind]).sort(), [
    ['backup', 'database'],
    ['backup', 'objects'],
  ]);
  const prune = await upkeepQueue.getJob('prune-after-20261207T010000000Z');
  assert.is(await prune!.getState(), 'waiting-children', 'the prune waits for the backup');

  const backupWorker = new Worker(BACKUP_QUEUE, (job: Job) => processBackup(job.data, h.ctx, job), {
    connection: ctx.redis,
    prefix: ctx.config.queuePrefix,
  });
  workers.push(backupWorker);

  const result = await waitFor(
    async () =>
      (await prune!.getState()) === 'completed'
        ? ((await upkeepQueue.getJob(prune!.id!))!.returnvalue as PruneJobResult)
        : undefined,
    'the prune after the nightly backup',
    120_000,
  );
  const backup = (await backupQueue.getJob('nightly-20261207T010000000Z'))!;
  const newest = (backup.returnvalue as { backupId: string }).backupId;
  assert.ok(newest > earlier[1]!);
  const objects = (await backupQueue.getJob('nightly-objects-20261207T010000000Z'))!;
  const objectsId = (objects.returnvalue as { backupId: string }).backupId;
  // Daily 1: today's newest database backup (verified by the prune) stays, the two before
  // go; the first objects backup stays too (alone in its history: nothing to prune, so not
  // verified, and reported so).
  assert.equal(result, {
    dryRun: false,
    deleted: [...earlier].sort().reverse(),
    kept: 2,
    unverified: ['objects'],
    errors: [],
  });
  assert.equal((await listBackups(h.ctx)).map((b) => b.id).sort(), [newest, objectsId].sort());
});

test("a worker that starts reads the backup gauges from the store's newest backup of each kind (a restart does not empty them)", async () => {
  await createBackup(h.ctx, { kind: 'database' });
  // The newest restorable database backup by id (ids are start seconds, allocated ahead
  // of the clock when several start within one second).
  const made = (await listBackups(h.ctx))
    .reverse()
    .find((b) => b.status === 'restorable' && b.manifest?.kind === 'database')!.manifest!;
  const fresh = createContext(testConfig(h.db.url, { ...h.env, LOG_LEVEL: 'silent' }));
  const freshJobs = createWorkers(fresh, registry);
  try {
    const line = `bulwark_backup_last_success_timestamp_seconds{kind="database"} ${Date.parse(made.finishedAt) / 1000}`;
    const text = await waitFor(async () => {
      const t = await fresh.metrics.registry.metrics();
      return t.includes(line) ? t : undefined;
    }, 'the gauge read from the store').catch(async (err: Error) => {
      const t = (await fresh.metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('bulwark_backup_'));
      throw new Error(`${err.message}: expected ${line} in\n${t.join('\n')}`);
    });
    const bytes = made.parts.reduce((n, p) => n + p.size, 0);
    assert.ok(text.includes(`bulwark_backup_bytes{kind="database"} ${bytes}`), text);
    // The objects backup of the test before is there too (the newest of its kind).
    assert.match(text, /bulwark_backup_last_success_timestamp_seconds\{kind="objects"\} \d{10}/);
  } finally {
    await Promise.all(freshJobs.workers.map((w) => w.close()));
    await Promise.all(freshJobs.queues.map((q) => q.close()));
    await fresh.prisma.$disconnect();
    await fresh.pg.end();
    await fresh.redis.quit();
  }
});

test.run();
