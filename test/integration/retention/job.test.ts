// The retention queue end to end in one process: the daily schedule on RETENTION_CRON
// in UTC, a run job fanned out to one tenant job per tenant, receipts and metrics; a
// bad RETENTION_CRON refused at start naming it; a bad payload failed at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { loadConfig } from '../../../lib/config.js';
import {
  RETENTION_QUEUE,
  RETENTION_SCHEDULER_ID,
  retentionRunJob,
  retentionTenantJobId,
} from '../../../lib/contracts/retention.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { daysAgo, entryAt, seedEntries } from '../../helpers/retention.js';
import { listKeys, putObjects, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let db: TestDatabase;
let store: RetentionStore;
let bulwark: RunningBulwark;
// Twelve hours away from now: the catch-up test needs the next scheduled run to be far off.
const CRON = `30 ${(new Date().getUTCHours() + 12) % 24} * * *`;
let queue: Queue;
const tenants: string[] = [];
const logs = captureLogs();

test.before(
  setup(async () => {
    db = await createTestDatabase();
    store = await startRetentionStore();
    bulwark = await startBulwark(testConfig(db.url, { RETENTION_CRON: CRON, LOG_LEVEL: 'info', ...store.env }), {
      logDestination: logs.stream,
    });
    for (const name of ['job-a', 'job-b']) {
      const id = (await createTenant(bulwark.ctx.prisma, { name })).id;
      tenants.push(id);
      await seedEntries(bulwark.ctx.prisma, 40, () => entryAt(id, daysAgo(95)));
    }
    queue = new Queue(RETENTION_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
  }),
);
test.after(
  cleanup([
    ['close queue', () => queue?.close()],
    ['stop bulwark', () => bulwark?.stop()],
    ['obliterate queues', () => bulwark && obliterateQueues(bulwark.ctx.config.queuePrefix)],
    ['drop database', () => db?.drop()],
    ['stop store', () => store?.stop()],
  ]),
);

test('RETENTION_CRON is validated, named when wrong; the default is 02:00 UTC daily', () => {
  assert.is(loadConfig({}).retentionCron, '0 2 * * *');
  assert.throws(() => loadConfig({ RETENTION_CRON: '0 25 * * *' }), /RETENTION_CRON: must be a valid cron expression/);
  assert.throws(() => loadConfig({ RETENTION_CRON: 'daily' }), /RETENTION_CRON/);
});

test('the daily run is scheduled with RETENTION_CRON in UTC', async () => {
  const s = (await queue.getJobSchedulers()).find(
    (j) => j.key === RETENTION_SCHEDULER_ID || j.id === RETENTION_SCHEDULER_ID,
  );
  assert.ok(s);
  assert.is(s!.pattern, CRON);
  assert.is(s!.tz, 'UTC');
});

test('a run job fans out one tenant job per tenant (the system tenant too); each leaves receipts; metrics count the deletes', async () => {
  await queue.add(retentionRunJob.name, { v: 1, runId: 'job-test-run' }, retentionRunJob.opts);
  const metrics = () => fetch(`${bulwark.url}/metrics`).then((r) => r.text());
  await waitFor(
    async () => (await metrics()).includes('bulwark_retention_tenant_runs_total{result="ok"} 3'),
    'the three tenant jobs done',
    120_000,
  );
  for (const t of tenants) {
    const left = await superuserQuery(
      db.url,
      `SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'task:done'`,
      [t],
    );
    assert.is(
      left.rows[0].n,
      0,
      JSON.stringify(
        (
          await superuserQuery(
            db.url,
            `SELECT tenant_id, class, status, deleted, cutoff, started_at FROM retention_receipts WHERE class = 'audit'`,
          )
        ).rows,
      ),
    );
  }
  const text = await metrics();
  assert.match(text, 'bulwark_retention_deleted_total{class="audit"} 80');
  assert.match(text, /bulwark_retention_last_success_timestamp_seconds \d{10}/);
  assert.ok(
    logs.events().some((l) => l.event === 'retention_fanned_out' && l.tenants === 3),
    logs.lines.filter((l) => l.includes('retention')).join('\n'),
  );
});

test('a run missed while every process was down is caught up once at start, not once per missed day', async () => {
  // The last finished receipt three days old, and the next scheduled run hours away.
  await superuserQuery(
    db.url,
    `UPDATE retention_receipts SET finished_at = now() - interval '3 days', started_at = now() - interval '3 days'`,
  );
  const second = await startBulwark(bulwark.ctx.config, { logDestination: logs.stream, http: false });
  try {
    const added = await waitFor(
      async () => logs.events().filter((l) => l.event === 'retention_catch_up').length > 0 && true,
      'the catch-up run added',
      60_000,
    );
    assert.ok(added);
    const day = new Date().toISOString().slice(0, 10);
    assert.ok(await queue.getJob(`retention-catch-up-${day}`), 'one job per UTC day');
    const third = await startBulwark(bulwark.ctx.config, {
      logDestination: logs.stream,
      http: false,
      scheduler: false,
    });
    await third.stop();
    const jobs = (await queue.getJobs(['waiting', 'active', 'completed', 'delayed', 'prioritized'])).filter((j) =>
      j.id?.startsWith('retention-catch-up-'),
    );
    assert.is(jobs.length, 1, 'a second process starting adds no second run');
  } finally {
    await second.stop();
  }
});

test('a tenant job with a bad payload fails at once, without retries', async () => {
  const job = await queue.add('tenant', { v: 1, runId: 'x', tenantId: 'not-a-uuid' }, { attempts: 5 });
  await waitFor(async () => (await job.isFailed()) && job, 'the job failed', 20_000);
  const failed = await queue.getJob(job.id!);
  assert.is(failed!.attemptsMade, 1);
  assert.match(failed!.failedReason, 'tenantId');
});

test('a tenant job whose object store is unreachable fails its attempt and is retried; the retry finishes the receipt', async () => {
  const t = (await createTenant(bulwark.ctx.prisma, { name: 'job-outage' })).id;
  const keys = await putObjects(store.storage, t, 'snapshots/raw', 40, 2, 'q');
  const id = retentionTenantJobId('outage-run', t);
  store.proxy.block();
  const delayed = await (async () => {
    await queue.add(retentionRunJob.name, { v: 1, runId: 'outage-run', tenantId: t }, retentionRunJob.opts);
    return waitFor(
      async () => {
        const j = await queue.getJob(id);
        return j && j.attemptsMade >= 1 && (await j.getState()) === 'delayed' && j;
      },
      'the failed attempt waiting for its retry',
      60_000,
    );
  })().finally(() => store.proxy.unblock());
  assert.ok(
    logs.events().some((l) => l.event === 'retention_class_failed' && l.tenant_id === t),
    'retention_class_failed logged',
  );
  assert.is(
    (
      await bulwark.ctx.prisma.retentionReceipt.findFirst({
        where: { tenantId: t, runId: 'outage-run', class: 'objects:snapshots-raw' },
      })
    )?.status,
    'running',
  );
  await delayed.promote(); // rather than wait the contract's 30 s backoff
  await waitFor(async () => (await queue.getJob(id))?.isCompleted(), 'the retry completed', 60_000);
  const raw = await bulwark.ctx.prisma.retentionReceipt.findFirstOrThrow({
    where: { tenantId: t, runId: 'outage-run', class: 'objects:snapshots-raw' },
  });
  assert.is(raw.status, 'done');
  assert.is(raw.deleted, 2n);
  assert.equal(await listKeys(store.storage, `tenant/${t}/`), []);
  assert.ok(keys.length === 2);
  assert.is(await bulwark.ctx.prisma.retentionReceipt.count({ where: { tenantId: t, runId: 'outage-run' } }), 9);
});

test.run();
