// The worker process's HTTP surface and its repeatable audit-verify job.
import { test } from 'uvu';
import { spawnSync } from 'node:child_process';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { AUDIT_VERIFY_QUEUE } from '../../../lib/contracts/index.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer } from '../../../producers/index.js';
import { processAuditVerify } from '../../../workers/audit/verify-worker.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { sweepJob } from '../../../lib/contracts/alert-delivery.js';
import { auditVerifyJob } from '../../../lib/contracts/audit.js';

const AUDIT_VERIFY_SCHEDULER_ID = auditVerifyJob.schedule!.id;
const ALERT_SWEEP_SCHEDULER_ID = sweepJob.schedule!.id;
import { ALERT_DELIVERY_QUEUE } from '../../../lib/contracts/alert-delivery.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { obliterateQueues } from '../../helpers/queues.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let tenant: string;
const logs = captureLogs();

test.before(async () => {
  db = await createTestDatabase();
  bulwark = await startBulwark(testConfig(db.url, { AUDIT_VERIFY_CRON: '*/30 * * * *', LOG_LEVEL: 'info' }), { logDestination: logs.stream });
  tenant = (await createTenant(bulwark.ctx.prisma, { name: 'http-tenant' })).id;
});

test.after(async () => {
  await bulwark.stop();
  await obliterateQueues(bulwark.ctx.config.queuePrefix);
  await db.drop();
});

test('/healthz and /readyz answer 200 when everything is up', async () => {
  const health = await fetch(`${bulwark.url}/healthz`);
  assert.is(health.status, 200);
  const ready = await fetch(`${bulwark.url}/readyz`);
  assert.is(ready.status, 200);
  const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
  assert.is(body.status, 'ready');
  // object_store is reported but never makes /readyz fail (test/integration/storage/readiness.test.ts).
  assert.equal(Object.keys(body.checks).sort(), ['accepting', 'migrations', 'object_store', 'postgres', 'redis']);
});

test('/metrics exposes queue, job and audit metrics with the bulwark_ prefix and no tenant ids', async () => {
  const producer = createProducer({ queuePrefix: bulwark.ctx.config.queuePrefix });
  await producer.audit.writeMany([entry(tenant), entry(tenant), entry(tenant)]);
  await producer.close();
  await waitFor(async () => Number((await superuserQuery(db.url, `SELECT count(*) AS n FROM audit_log WHERE action = 'task:completed'`)).rows[0].n) === 3, 'three rows');
  const text = await waitFor(async () => {
    const t = await (await fetch(`${bulwark.url}/metrics`)).text();
    return t.includes('bulwark_jobs_completed_total{queue="audit-write"} 1') ? t : undefined;
  }, 'completed counter');
  const names = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]!));
  for (const n of names) assert.ok(n.startsWith('bulwark_'), `${n} lacks the bulwark_ prefix`);
  assert.match(text, 'bulwark_queue_jobs{queue="audit-write",state="completed"} 1');
  assert.match(text, 'bulwark_queue_jobs{queue="alert",state="waiting"} 0');
  assert.match(text, 'bulwark_audit_entries_written_total 3');
  assert.match(text, /bulwark_job_duration_seconds_count\{queue="audit-write"\} 1/);
  assert.match(text, 'bulwark_process_resident_memory_bytes');
  assert.not.match(text, tenant, 'a tenant id must never be a label');
  assert.match(text, 'bulwark_queue_paused{queue="alert"} 0');
  // Failure series exist at 0 before any failure, so the rules' increase() counts the first one.
  for (const queue of ['audit-write', 'alert', 'alert-delivery']) assert.match(text, `bulwark_jobs_failed_total{queue="${queue}",final="true"} 0`);
  assert.match(text, 'bulwark_alerts_total{outcome="failed",reason="rejected",channel="webhook"} 0');
  for (const check of ['redis', 'postgres', 'migrations', 'accepting']) assert.match(text, `bulwark_ready{check="${check}"} 1`);
  assert.not.match(text, 'state="paused"', 'BullMQ has no paused job state; the flag has its own gauge');
  // Prometheus' own linter; CI installs it (scripts/system-deps.sh), so a missing promtool fails.
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (lint.error && (lint.error as NodeJS.ErrnoException).code === 'ENOENT') assert.unreachable('promtool not found: run scripts/system-deps.sh');
  assert.not.ok(lint.error, `promtool could not run: ${lint.error?.message}`);
  assert.is(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
});

test('a paused queue shows in bulwark_queue_paused and its jobs still count as waiting', async () => {
  const queue = new Queue(ALERT_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
  await queue.pause();
  // Added while paused, so the running alert worker cannot take it; removed before the
  // resume so it is never processed.
  const job = await queue.add('paused-probe', { probe: true });
  try {
    assert.is(await queue.getWaitingCount(), 1);
    const text = await (await fetch(`${bulwark.url}/metrics`)).text();
    assert.match(text, 'bulwark_queue_paused{queue="alert"} 1');
    assert.match(text, 'bulwark_queue_paused{queue="audit-write"} 0');
    assert.match(text, 'bulwark_queue_jobs{queue="alert",state="waiting"} 1');
  } finally {
    await job.remove();
    await queue.resume();
    await queue.close();
  }
});

/** The job scheduler `id` on queue `name`, as BullMQ stored it. */
async function schedulerOf(name: string, id: string) {
  const q = new Queue(name, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
  const schedulers = await q.getJobSchedulers();
  await q.close();
  const s = schedulers.find((j) => j.key === id || j.id === id);
  assert.ok(s, JSON.stringify(schedulers));
  return s;
}

test('the hourly audit-verify job is scheduled with the configured cron in UTC', async () => {
  const s = await schedulerOf(AUDIT_VERIFY_QUEUE, AUDIT_VERIFY_SCHEDULER_ID);
  assert.is(s!.pattern, '*/30 * * * *');
  assert.is(s!.tz, 'UTC');
});

test('the alert sweep is scheduled every minute on alert-delivery', async () => {
  const s = await schedulerOf(ALERT_DELIVERY_QUEUE, ALERT_SWEEP_SCHEDULER_ID);
  assert.is(Number(s!.every), 60_000);
});

test('a verify run records its result in metrics and a log event, and flags a broken chain', async () => {
  const ok = await processAuditVerify({ v: 1 }, bulwark.ctx);
  assert.ok(ok.ok);
  await superuserQuery(db.url, `SET session_replication_role = replica; UPDATE audit_log SET actor_id = 'mallory' WHERE seq = 4`);
  const bad = await processAuditVerify({ v: 1 }, bulwark.ctx);
  assert.not.ok(bad.ok);
  assert.equal(bad.broken, [{ tenantId: tenant, seq: '4', problem: 'content' }]);
  const text = await (await fetch(`${bulwark.url}/metrics`)).text();
  assert.match(text, 'bulwark_audit_verify_runs_total{result="ok"} 1');
  assert.match(text, 'bulwark_audit_verify_runs_total{result="broken"} 1');
  assert.match(text, 'bulwark_audit_verify_broken_chains 1');
  const events = logs.events();
  assert.ok(events.some((e) => e.event === 'audit_verify_completed' && e.ok === true));
  assert.ok(events.some((e) => e.event === 'audit_chain_broken' && e.tenant_id === tenant && e.seq === '4'));
  try {
    await processAuditVerify({ v: 2 }, bulwark.ctx);
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).name, 'UnrecoverableError');
  }
});

test.run();
