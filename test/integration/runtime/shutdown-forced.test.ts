// Graceful shutdown is bounded: the real `bulwark start` gets SIGTERM while a job runs
// far longer than SHUTDOWN_TIMEOUT_MS (an alert whose inline send waits on a receiver
// that never answers). It logs shutdown_forced, exits 0 within the bound, and the job
// is not lost: its lock expires, and another worker takes it over as a stalled job and
// completes it. The same with an audit commit waiting on a locked chain head: its
// statement is cancelled so the process can close its pool within the bound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queue } from 'bullmq';
import pg from 'pg';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { parseMasterKeys } from '../../../lib/crypto/master-keys.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { workerFleet } from '../../helpers/worker-fleet.js';
import { spawnWorker, workerEnv, type WorkerProcess } from '../../helpers/worker-process.js';

const SHUTDOWN_TIMEOUT_MS = 1500;
/** The hung send would hold the job this long: far past the shutdown bound and the test's slack. */
const ALERT_HTTP_TIMEOUT_MS = 120_000;
/** Lock of the dead worker's job; the next worker's stalled check runs every half of it. */
const LOCK_MS = 2000;
const MASTER_KEYS = `k1:${generateFernetKey()}`;
const system = { type: 'system' as const, id: 'test' };

const fleet = workerFleet({ name: 'shutdown-forced', queue: ALERT_QUEUE });
const spawned = fleet.spawned;
let prefix: string;
let db: TestDatabase;
let prisma: PrismaClient;
let producer: Producer;
let queue: Queue;
let receiver: Receiver;
let tenantId: string;

test.before(
  setup(async () => {
    ({ prefix, db, prisma, producer, queue, tenantId } = await fleet.start());
    receiver = await startReceiver();
    await updateTenantSettings(prisma, tenantId, { alerts: { maxPerWindow: 100, userThrottle: { limit: 0 } } }, system);
    await setSecret(prisma, parseMasterKeys(MASTER_KEYS), { tenantId, name: 'hook', value: 'whsec-shutdown-forced' }, system);
    await addChannel(prisma, { tenantId, name: 'hook', type: 'webhook', target: `${receiver.url}/hook`, secretRef: 'secret://hook' }, system, LOOPBACK_TARGETS);
  }),
);

test.after(
  cleanup([
    ...fleet.cleanupSteps(),
    ['close receiver', () => receiver?.close()],
  ]),
);

const events = (w: WorkerProcess) => w.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

test('SIGTERM during a job longer than SHUTDOWN_TIMEOUT_MS: shutdown_forced, exit within the bound, another worker completes the job', async () => {
  const env = workerEnv(db.url, prefix, {
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    ALERT_HTTP_TIMEOUT_MS: String(ALERT_HTTP_TIMEOUT_MS),
    WORKER_LOCK_DURATION_MS: String(LOCK_MS),
    MASTER_KEYS,
    LOG_LEVEL: 'info',
  });
  // The first send never gets an answer; every later one gets 200.
  receiver.next('hang');
  const first = await spawnWorker(env, { cli: true });
  spawned.push(first);

  const { jobId, alertId } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk almost full' });
  await receiver.waitForRequests(1, 30_000);
  assert.is(await (await queue.getJob(jobId))?.getState(), 'active', 'the job is held by the hung send');

  const sentAt = Date.now();
  first.kill('SIGTERM');
  // A hang guard, far above the bound asserted below.
  const exit = await withTimeout(first.exited, 60_000, 'the worker exiting after SIGTERM');
  const elapsed = Date.now() - sentAt;
  assert.equal(exit, { code: 0, signal: null }, first.stderr());
  // The bound plus generous slack for closing connections on a shared 2-core machine;
  // still far below the 120 s the hung send would have held an unbounded shutdown.
  assert.ok(elapsed < SHUTDOWN_TIMEOUT_MS + 10_000, `exited ${elapsed} ms after SIGTERM`);
  assert.ok(elapsed >= SHUTDOWN_TIMEOUT_MS, `waited for running jobs up to the bound before forcing (${elapsed} ms)`);

  const logged = events(first);
  const names = logged.map((e) => e.event);
  assert.ok(names.includes('bulwark_stopping'), names.join(','));
  assert.is(names.filter((n) => n === 'shutdown_forced').length, 1, names.join(','));
  assert.ok(names.indexOf('shutdown_forced') < names.indexOf('bulwark_stopped'), names.join(','));
  assert.is(logged.find((e) => e.event === 'bulwark_stopping')?.timeout_ms, SHUTDOWN_TIMEOUT_MS);

  // Abandoned, not finished and not failed: still active under a lock that will expire.
  const abandoned = await queue.getJob(jobId);
  assert.is(await abandoned?.getState(), 'active');
  assert.is(abandoned?.attemptsMade, 0);
  assert.is((await superuserQuery(db.url, 'SELECT outcome FROM alert_ledger WHERE id = $1', [alertId])).rows[0]?.outcome, 'received');

  const second = await spawnWorker({ ...env, LOG_LEVEL: 'warn' });
  spawned.push(second);
  const done = await waitFor(async () => {
    const job = await queue.getJob(jobId);
    const state = await job?.getState();
    return state === 'completed' || state === 'failed' ? { job: job!, state } : undefined;
  }, 'the other worker to finish the abandoned job', 60_000, 100);
  assert.is(done.state, 'completed', done.job.failedReason);
  // Taken over once as a stalled job, never failed: the second start is that take-over.
  assert.equal([done.job.stalledCounter, done.job.attemptsStarted, done.job.failedReason], [1, 2, undefined]);
  await waitFor(async () => {
    const row = (await superuserQuery(db.url, 'SELECT outcome FROM alert_ledger WHERE id = $1', [alertId])).rows[0] as { outcome: string } | undefined;
    return row?.outcome === 'delivered' ? row : undefined;
  }, 'the alert delivered', 30_000);
  assert.is(receiver.requests.length, 2, 'one hung send, one answered');
  assert.ok(receiver.requests.every((r) => r.path === '/hook'));

  second.kill('SIGTERM');
  assert.equal(await withTimeout(second.exited, 30_000, 'the second worker exiting'), { code: 0, signal: null }, second.stderr());
});

test('SIGTERM while an audit commit waits on a locked chain head: its statement is cancelled, the exit is bounded, the entry lands once later', async () => {
  const env = workerEnv(db.url, prefix, { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), WORKER_LOCK_DURATION_MS: String(LOCK_MS), MASTER_KEYS, LOG_LEVEL: 'info' });
  // Another session holds the tenant's chain head, as a slow or stuck writer would.
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM audit_chain_heads WHERE tenant_id = $1 FOR UPDATE', [tenantId]);
    const worker = await spawnWorker(env, { cli: true });
    spawned.push(worker);
    // Four jobs: one commit waits on the lock and the others queue behind it, each of
    // which would wait again if the shutdown only cancelled the first.
    const separate = createProducer({ redisUrl: REDIS_URL, queuePrefix: prefix, coalesceWrites: false });
    const eventIds = await Promise.all([1, 2, 3, 4].map(async (i) => (await separate.audit.write({ tenantId, actorType: 'system', action: 'task:noted', resourceType: 'task', resourceId: `t-${i}` })).eventId));
    await separate.close();
    // Read outside the holder's transaction: pg_stat_activity is a snapshot per transaction.
    await waitFor(async () => {
      const r = await superuserQuery(db.url, `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
      return r.rowCount ? true : undefined;
    }, 'the commit waiting on the lock', 30_000);
    const sentAt = Date.now();
    worker.kill('SIGTERM');
    const exit = await withTimeout(worker.exited, 60_000, 'the worker exiting after SIGTERM');
    const elapsed = Date.now() - sentAt;
    assert.equal(exit, { code: 0, signal: null }, worker.stderr());
    // Without the cancel the commit would hold the exit until its 30 s statement timeout.
    assert.ok(elapsed < SHUTDOWN_TIMEOUT_MS + 10_000, `exited ${elapsed} ms after SIGTERM`);
    const cancelled = events(worker).find((e) => e.event === 'shutdown_statements_cancelled');
    assert.ok(cancelled && Number(cancelled.count) >= 1, worker.lines.join('\n'));
    const stored = async () => (await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM audit_log WHERE event_id = ANY($1)', [eventIds])).rows[0].n as number;
    assert.is(await stored(), 0, 'nothing written while the lock was held');
    await holder.query('COMMIT');
    const second = await spawnWorker({ ...env, LOG_LEVEL: 'warn' });
    spawned.push(second);
    await waitFor(async () => ((await stored()) === 4 ? true : undefined), 'the entries written by the next worker, once each', 60_000, 100);
    second.kill('SIGTERM');
    assert.equal(await withTimeout(second.exited, 30_000, 'the second worker exiting'), { code: 0, signal: null }, second.stderr());
  } finally {
    await holder.end().catch(() => undefined);
  }
});

test.run();
