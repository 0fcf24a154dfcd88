// Two Bulwark worker processes side by side on one backup queue: database, objects and
// tenant backup jobs all complete, each job with exactly one backup, and no two backups
// ever ran at once (their manifests' start-to-finish intervals never overlap), so one
// database backup at a time holds across processes, not only within one.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listBackups } from '../../../lib/backup/index.js';
import { backupJob, BACKUP_QUEUE, type BackupJobResult } from '../../../lib/contracts/backup.js';
import { addJob } from '../../../lib/contracts/enqueue.js';
import { putTenantObjects, startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { REDIS_URL, waitFor } from '../../helpers/env.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { killWorker, spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

let h: BackupHarness;
let connection: Redis;
let queue: Queue;
const workers: WorkerProcess[] = [];

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 2, entries: 300 });
    await putTenantObjects(h.ctx, h.tenants[0]!, 6);
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue(BACKUP_QUEUE, { connection, prefix: h.config.queuePrefix });
  }),
);
test.after(
  cleanup([
    ['kill workers', () => Promise.all(workers.map((w) => killWorker(w)))],
    ['close queue', () => queue?.close()],
    ['obliterate queues', () => h && obliterateQueues(h.config.queuePrefix)],
    ['redis', () => connection?.quit()],
    ['close harness', () => h?.close()],
  ]),
);

test('two worker processes: every backup job done once, never two backups at a time', async () => {
  const { DATABASE_URL: _d, REDIS_URL: _r, ...store } = h.env;
  const env = workerEnv(h.db.url, h.config.queuePrefix, {
    ...store,
    WORKER_LOCK_DURATION_MS: '10000',
    LOG_LEVEL: 'info',
  });
  // The compiled `bulwark start` (quicker to start than the sources through tsx on a busy
  // machine); it says it is ready in its info-level `bulwark_started` line.
  workers.push(...(await Promise.all([0, 1].map(() => spawnWorker(env, { cli: true, readyTimeoutMs: 90_000 })))));
  const payloads = [
    { v: 1, kind: 'database' },
    { v: 1, kind: 'objects' },
    { v: 1, kind: 'database' },
    { v: 1, kind: 'tenant', tenantId: h.tenants[1]! },
    { v: 1, kind: 'database' },
  ] as const;
  for (const data of payloads) await addJob(queue, backupJob, data);
  const results = await waitFor(
    async () => {
      const failed = await queue.getJobs(['failed']);
      if (failed.length) throw new Error(`a backup job failed: ${failed[0]!.failedReason}`);
      const done = await queue.getJobs(['completed']);
      return done.length === payloads.length ? done.map((j) => j.returnvalue as BackupJobResult) : undefined;
    },
    'every backup job to complete',
    150_000,
    500,
  );
  const ids = results.map((r) => r.backupId).sort();
  assert.is(new Set(ids).size, payloads.length, 'two jobs share a backup');
  const restorable = (await listBackups(h.ctx)).filter((b) => b.status === 'restorable');
  assert.equal(restorable.map((b) => b.id).sort(), ids, 'a job left more or fewer than one backup');
  assert.equal(restorable.map((b) => b.manifest!.kind).sort(), [
    'database',
    'database',
    'database',
    'objects',
    'tenant',
  ]);
  // One at a time: each backup started after the one before it had finished.
  const spans = restorable.map((b) => [Date.parse(b.manifest!.startedAt), Date.parse(b.manifest!.finishedAt)] as const);
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++)
    assert.ok(spans[i]![0] >= spans[i - 1]![1], `backups ${i - 1} and ${i} ran at the same time`);
});

test.run();
