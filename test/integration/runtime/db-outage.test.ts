// Dependencies going away and coming back, through TCP proxies in front of the real
// Postgres and Redis: jobs retry instead of being lost and land exactly once when
// Postgres is back; /readyz names the failing check (postgres, redis, migrations).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queue } from 'bullmq';
import type { PrismaClient } from '../../../lib/clients/prisma.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import type { Producer } from '../../../producers/index.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { assertExactChain, countRows } from '../../helpers/audit-db.js';
import { superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { REDIS_URL, captureLogs, testConfig, waitFor, withTimeout } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startTcpProxy, viaProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { workerFleet } from '../../helpers/worker-fleet.js';

const fleet = workerFleet({ name: 'outage', queue: AUDIT_WRITE_QUEUE });
let db: TestDatabase;
let pgProxy: TcpProxy;
let redisProxy: TcpProxy;
let bulwark: RunningBulwark;
let prisma: PrismaClient;
let producer: Producer;
let queue: Queue;
let prefix: string;
let tenant: string;
/** Rows and eventIds present before the test enqueues (creating a tenant may write some). */
let baseline: { rows: number; eventIds: string[] };
const logs = captureLogs();

async function readyz(): Promise<{ status: number; failing: string[]; body: Record<string, unknown> }> {
  const res = await withTimeout(fetch(`${bulwark.url}/readyz`), 15_000, 'GET /readyz');
  const body = (await res.json()) as { failing: string[] };
  return { status: res.status, failing: body.failing, body };
}

const readyzFailing = (check: string) => async () => {
  const r = await readyz();
  return r.status === 503 && r.failing.includes(check) ? r : undefined;
};
const readyzOk = async () => {
  const r = await readyz();
  return r.status === 200 ? r : undefined;
};

test.before(
  setup(async () => {
    db = await fleet.database();
    pgProxy = await startTcpProxy(new URL(db.url).hostname, Number(new URL(db.url).port || 5432));
    const redisUrl = new URL(REDIS_URL);
    redisProxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    const config = testConfig(viaProxy(db.url, pgProxy), { REDIS_URL: viaProxy(REDIS_URL, redisProxy), LOG_LEVEL: 'warn' });
    prefix = config.queuePrefix;
    bulwark = await startBulwark(config, { scheduler: false, logDestination: logs.stream });
    ({ prisma, producer, queue, tenantId: tenant, baseline } = await fleet.start({ prefix }));
  }),
);

test.after(
  cleanup([
    ['unblock proxies', () => (pgProxy?.unblock(), redisProxy?.unblock())],
    ['stop bulwark', () => bulwark?.stop()],
    ['close proxies', () => Promise.all([pgProxy?.close(), redisProxy?.close()])],
    ...fleet.cleanupSteps(),
  ]),
);

test('/readyz is 200 when every dependency answers', async () => {
  const r = await waitFor(readyzOk, 'readyz 200');
  assert.equal(r.failing, []);
});

test('Postgres unreachable: jobs retry and nothing is written; back: every entry lands once', async () => {
  pgProxy.block();
  const down = await waitFor(readyzFailing('postgres'), 'readyz 503 naming postgres', 30_000, 200);
  assert.match(JSON.stringify(down.body), /postgres/);
  // /readyz is public: a fixed reason, never the driver's message with hosts and ports.
  const postgresCheck = (down.body.checks as Record<string, { ok: boolean; reason?: string }>).postgres!;
  assert.ok(postgresCheck.reason === 'timeout' || postgresCheck.reason === 'error', JSON.stringify(down.body));
  assert.equal(Object.keys(postgresCheck).sort(), ['ok', 'reason'], JSON.stringify(down.body));
  assert.not.match(JSON.stringify(down.body), String(pgProxy.port));
  assert.not.match(JSON.stringify(down.body), '127.0.0.1');
  // The message is in the log instead, once per message however often the probe asks.
  await readyz();
  await readyz();
  const failed = logs.events().filter((e) => e.event === 'readiness_check_failed' && e.check === 'postgres');
  assert.ok(failed.length >= 1 && failed.every((e) => typeof e.error === 'string' && e.error !== '' && (e.reason === 'timeout' || e.reason === 'error')), JSON.stringify(failed));
  assert.ok(failed.every((e, i) => i === 0 || e.error !== failed[i - 1]!.error), `one line per message: ${JSON.stringify(failed)}`);
  // The same failure is visible to Prometheus while /metrics keeps answering.
  const scraped = await withTimeout(fetch(`${bulwark.url}/metrics`), 15_000, 'GET /metrics');
  assert.is(scraped.status, 200);
  const metricsText = await scraped.text();
  assert.match(metricsText, 'bulwark_ready{check="postgres"} 0');
  assert.match(metricsText, 'bulwark_ready{check="redis"} 1');

  const eventIds: string[] = [...baseline.eventIds];
  const jobIds: string[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await producer.audit.write(entry(tenant));
    eventIds.push(r.eventId);
    jobIds.push(r.jobId);
  }
  const many = await producer.audit.writeMany(Array.from({ length: 100 }, () => entry(tenant)));
  eventIds.push(...many.eventIds);
  jobIds.push(many.jobId);

  // Every job has failed at least one attempt and is waiting for its retry, none for good.
  await waitFor(async () => {
    const jobs = await Promise.all(jobIds.map((id) => queue.getJob(id)));
    return jobs.every((j) => j && j.attemptsMade >= 1);
  }, 'every job to fail an attempt', 30_000, 100);
  const during = await queue.getJobCounts('completed', 'failed');
  assert.equal(during, { completed: 0, failed: 0 }, 'no job completed or failed for good while Postgres was down');
  assert.is(await countRows(db.url), baseline.rows);
  assert.ok(logs.events().some((e) => e.event === 'job_failed' && e.final === false), 'a retryable failure was logged');
  assert.is((await readyz()).status, 503);

  pgProxy.unblock();
  await waitFor(async () => (await queue.getJobCounts('completed')).completed === jobIds.length, 'every job to complete', 90_000, 200);
  assert.equal(await queue.getJobCounts('failed', 'delayed', 'wait', 'active'), { failed: 0, delayed: 0, wait: 0, active: 0 });
  await assertExactChain(db.url, tenant, eventIds);
  assert.ok((await verifyChains(prisma, { tenantId: tenant })).ok);
  await waitFor(readyzOk, 'readyz 200 after Postgres is back', 30_000, 200);
});

test('Redis unreachable: /readyz 503 naming redis; back: 200 and jobs flow again', async () => {
  redisProxy.block();
  const down = await waitFor(readyzFailing('redis'), 'readyz 503 naming redis', 30_000, 200);
  assert.not.ok(down.failing.includes('postgres'), JSON.stringify(down.body));
  redisProxy.unblock();
  await waitFor(readyzOk, 'readyz 200 after Redis is back', 30_000, 200);

  const before = await countRows(db.url);
  const { eventId } = await producer.audit.write(entry(tenant));
  await waitFor(
    async () => (await superuserQuery(db.url, 'SELECT 1 FROM audit_log WHERE event_id = $1', [eventId])).rowCount === 1,
    'an entry written after Redis came back',
    30_000,
  );
  assert.is(await countRows(db.url), before + 1);
});

test('a pending migration: /readyz 503 naming migrations; applied again: 200', async () => {
  const { rows } = await superuserQuery(db.url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name DESC LIMIT 1');
  const last = rows[0];
  assert.ok(last, 'the test database has applied migrations');
  await superuserQuery(db.url, 'DELETE FROM "_prisma_migrations" WHERE id = $1', [last.id]);
  try {
    const r = await waitFor(readyzFailing('migrations'), 'readyz 503 naming migrations', 20_000, 200);
    assert.equal(r.failing, ['migrations']);
    assert.equal((r.body.checks as Record<string, unknown>).migrations, { ok: false, reason: 'pending_migrations' });
    // The file names are for the operator's log, not the public probe.
    assert.not.match(JSON.stringify(r.body), last.migration_name);
    const logged = logs.events().filter((e) => e.event === 'readiness_check_failed' && e.check === 'migrations');
    assert.ok(logged.some((e) => String(e.error).includes(last.migration_name)), JSON.stringify(logged));
  } finally {
    const cols = Object.keys(last);
    await superuserQuery(
      db.url,
      `INSERT INTO "_prisma_migrations" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((_c, i) => `$${i + 1}`).join(', ')})`,
      cols.map((c) => last[c]),
    );
  }
  await waitFor(readyzOk, 'readyz 200 once the migration is recorded again', 20_000, 200);
});

test.run();
