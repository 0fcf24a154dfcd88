// The backup schedules on the real services: the scheduler registers the nightly backup
// (BACKUP_CRON) and the restore drill (RESTORE_DRILL_CRON) in UTC; the nightly job adds a
// backup-then-prune flow whose prune waits for the backup, then prunes by retention
// (real backup worker, real upkeep worker, s3rver, Postgres); adding it again for the same
// tick adds nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue, Worker, type Job } from 'bullmq';
import { createBackup } from '../../lib/backup/create.js';
import { listBackups } from '../../lib/backup/list.js';
import type { AppContext } from '../../lib/context.js';
import { BACKUP_QUEUE } from '../../lib/contracts/backup.js';
import { BACKUP_UPKEEP_QUEUE } from '../../lib/contracts/drill.js';
import { processBackup } from '../../workers/backup/processor.js';
import { addNightlyFlow } from '../../workers/backup/nightly.js';
import { createBackupUpkeepWorker, processUpkeep, type UpkeepResult } from '../../workers/backup/upkeep.js';
import { createContext } from '../../workers/main.js';
import { BACKUP_NIGHTLY_SCHEDULER_ID, RESTORE_DRILL_SCHEDULER_ID, startScheduler } from '../../workers/runtime/scheduler.js';
import { startBackupHarness, type BackupHarness } from '../helpers/backup.js';
import { testConfig, waitFor } from '../helpers/env.js';
import { cleanup, setup } from '../helpers/lifecycle.js';
import { obliterateQueues } from '../helpers/queues.js';

let h: BackupHarness;
let ctx: AppContext;
let backupQueue: Queue;
let upkeepQueue: Queue;
const workers: Array<{ close(): Promise<void> }> = [];

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 1, entries: 10 });
    ctx = createContext(testConfig(h.db.url, { ...h.env, BACKUP_CRON: '15 2 * * *', RESTORE_DRILL_CRON: '30 4 * * 1', BACKUP_KEEP_DAILY: '1', BACKUP_KEEP_WEEKLY: '0', BACKUP_KEEP_MONTHLY: '0', LOG_LEVEL: 'silent' }));
    backupQueue = new Queue(BACKUP_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
    upkeepQueue = new Queue(BACKUP_UPKEEP_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  }),
);
test.after(
  cleanup([
    ['workers', () => Promise.all(workers.map((w) => w.close()))],
    ['queues', () => Promise.all([backupQueue?.close(), upkeepQueue?.close()])],
    ['obliterate', () => obliterateQueues(ctx.config.queuePrefix)],
    ['prisma', () => ctx?.prisma.$disconnect()],
    ['pool', () => ctx?.pg.end()],
    ['redis', () => ctx?.redis.quit()],
    ['harness', () => h?.close()],
  ]),
);

test('backup schedules: the scheduler registers the nightly backup and the restore drill in UTC', async () => {
  const scheduler = await startScheduler(ctx);
  try {
    const nightly = await upkeepQueue.getJobScheduler(BACKUP_NIGHTLY_SCHEDULER_ID);
    const drill = await upkeepQueue.getJobScheduler(RESTORE_DRILL_SCHEDULER_ID);
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
    await (await startScheduler(ctx)).close();
    assert.is((await upkeepQueue.getJobSchedulers()).length, 2);
  } finally {
    await scheduler.close();
  }
});

test('backup schedules: the nightly flow backs up, then prunes by retention; the same tick adds it once', async () => {
  const earlier = [(await createBackup(h.ctx, { kind: 'database' })).id, (await createBackup(h.ctx, { kind: 'database' })).id];
  const tick = new Date(Date.UTC(2026, 11, 7, 1, 0, 0));
  const ran = await processUpkeep({ name: 'nightly', data: { v: 1 }, timestamp: Date.now(), opts: { prevMillis: tick.getTime() } }, ctx, backupQueue);
  assert.equal(ran, { dryRun: false, deleted: [], kept: 0, unverified: [], errors: [] });
  const again = await addNightlyFlow(ctx.redis, ctx.config.queuePrefix, tick);
  assert.equal(again, { backupJobId: 'nightly-20261207T010000000Z', pruneJobId: 'prune-after-20261207T010000000Z' });
  assert.is((await backupQueue.getJobs(['waiting'])).length, 1, 'one backup job, however often the flow is added');
  const prune = await upkeepQueue.getJob('prune-after-20261207T010000000Z');
  assert.is(await prune!.getState(), 'waiting-children', 'the prune waits for the backup');

  const upkeep = createBackupUpkeepWorker(ctx);
  workers.push({ close: async () => (await upkeep.worker.close(), await upkeep.close()) });
  void upkeep.worker.run();
  const backupWorker = new Worker(BACKUP_QUEUE, (job: Job) => processBackup(job.data, h.ctx, job), { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  workers.push(backupWorker);

  const result = await waitFor(async () => ((await prune!.getState()) === 'completed' ? ((await upkeepQueue.getJob(prune!.id!))!.returnvalue as UpkeepResult) : undefined), 'the prune after the nightly backup', 120_000);
  const backup = (await backupQueue.getJob('nightly-20261207T010000000Z'))!;
  const newest = (backup.returnvalue as { backupId: string }).backupId;
  assert.ok(newest > earlier[1]!);
  // Daily 1: today's newest (the nightly one, verified by the prune) stays, the two before go.
  assert.equal(result, { dryRun: false, deleted: [...earlier].sort().reverse(), kept: 1, unverified: [], errors: [] });
  assert.equal((await listBackups(h.ctx)).map((b) => b.id), [newest]);
});

test.run();
