// Issue 15 defects 2 and 4, on a Redis of the test's own (never the shared one):
// - killed (kill -9): every API request is answered 503 + Retry-After within the bound
//   instead of hanging, /metrics still answers, and no refused write is enqueued once
//   Redis is back (the API's connection used to queue them and send them later);
// - at maxmemory (OOM): 503 + Retry-After, /readyz names redis with reason
//   out_of_memory, and bulwark_redis_oom_total counts it.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { basic, OPERATOR } from '../../helpers/api.js';
import { storedEventIds } from '../../helpers/audit-db.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startOwnRedis, type OwnRedis } from '../../helpers/own-redis.js';

let db: TestDatabase;
let prisma: PrismaClient;
let redis: OwnRedis;
let bulwark: RunningBulwark;
let tenant: { id: string; key: string };
const logs = captureLogs();

test.before(
  setup(async () => {
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 1 });
    const t = await createTenant(prisma, { name: 'redis-outage' });
    tenant = { id: t.id, key: t.adminKey.key };
    redis = await startOwnRedis();
    bulwark = await startBulwark(
      testConfig(db.url, {
        REDIS_URL: redis.url,
        LOG_LEVEL: 'warn',
        OPERATOR_USERNAME: OPERATOR.username,
        OPERATOR_PASSWORD: OPERATOR.password,
      }),
      {
        scheduler: false,
        logDestination: logs.stream,
      },
    );
  }),
);

test.after(
  cleanup([
    ['stop bulwark', () => bulwark?.stop()],
    ['stop redis', () => redis?.stop()],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

/** A request that must be answered (15 s is a hang detector, far above the 2 s bound). */
async function call(
  method: string,
  path: string,
  options: { key?: string; body?: unknown; authorization?: string } = {},
): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const res = await withTimeout(
    fetch(`${bulwark.url}${path}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.authorization ? { authorization: options.authorization } : {}),
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      body: options.body ? JSON.stringify(options.body) : undefined,
    }),
    15_000,
    `${method} ${path} to be answered`,
  );
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

const write = (eventId: string) => ({
  eventId,
  actorType: 'user',
  actorId: 'u1',
  action: 'task:completed',
  resourceType: 'task',
  resourceId: 't1',
});

/**
 * Once Redis is back: wait until the API accepts a write and the workers have stored it
 * (everything Redis held was before it), then every stored eventId of the tenant.
 */
async function storedOnceBack(what: string): Promise<string[]> {
  const after = randomUUID();
  await waitFor(
    async () => (await call('POST', '/v1/audit', { key: tenant.key, body: write(after) })).status === 202,
    'the API to accept writes again',
    30_000,
    250,
  );
  await waitFor(
    async () => (await storedEventIds(db.url, tenant.id)).includes(after),
    `the write after ${what} to be stored`,
    30_000,
    100,
  );
  return storedEventIds(db.url, tenant.id);
}

test('Redis killed: every request answered 503 + Retry-After; none of the refused writes is ever stored', async () => {
  const before = await call('POST', '/v1/audit', { key: tenant.key, body: write(randomUUID()) });
  assert.is(before.status, 202, before.body);

  await redis.kill();
  const refused: string[] = [];
  const answers = await Promise.all([
    ...Array.from({ length: 20 }, () => {
      const eventId = randomUUID();
      refused.push(eventId);
      return call('POST', '/v1/audit', { key: tenant.key, body: write(eventId) });
    }),
    (() => {
      const eventId = randomUUID();
      refused.push(eventId);
      return call('POST', '/v1/audit/batch', { key: tenant.key, body: { entries: [write(eventId)] } });
    })(),
    call('GET', '/v1/audit', { key: tenant.key }),
    call('GET', '/v1/audit', { key: `bwk_${'u'.repeat(43)}` }),
    // Bull Board's data, on the API's connection: refused too, not hung.
    call('GET', '/admin/queues/api/queues', { authorization: basic(OPERATOR.username, OPERATOR.password) }),
  ]);
  for (const a of answers) {
    assert.is(a.status, 503, a.body);
    assert.ok(a.retryAfter && Number(a.retryAfter) > 0, 'Retry-After in seconds');
    assert.is((JSON.parse(a.body) as { error: { code: string } }).error.code, 'unavailable');
  }
  assert.match(answers[0]!.body, 'nothing was enqueued');
  const metrics = await call('GET', '/metrics');
  assert.is(metrics.status, 200);
  assert.match(metrics.body, /bulwark_api_unavailable_total\{dependency="redis",reason="unreachable"\} \d+/);

  // Back: the API serves again by itself, and what it refused was never sent.
  await redis.start();
  // The workers took everything Redis held (the refused writes would have been before it).
  const stored = await storedOnceBack('the outage');
  assert.equal(
    refused.filter((id) => stored.includes(id)),
    [],
    'a refused write was stored',
  );
  const queued = await redis.admin(async (r) => (await r.keys('*')).join('\n'));
  for (const id of refused) assert.not.match(queued, id);
});

test('Redis hung (SIGSTOP): a write answered 503 is never stored, even once Redis runs what it was sent', async () => {
  const before = await call('POST', '/v1/audit', { key: tenant.key, body: write(randomUUID()) });
  assert.is(before.status, 202, before.body);

  // Paused, the server takes the API's commands into its socket and runs them at SIGCONT:
  // a write whose answer was 503 must not be among them.
  redis.pause();
  const pausedAt = Date.now();
  // Bull Board's handles are on the API's connection too: bounded, not waiting for SIGCONT.
  const board = call('GET', '/admin/queues/api/queues', { authorization: basic(OPERATOR.username, OPERATOR.password) });
  const sent: Array<{ eventId: string; at: number; answer: Promise<{ status: number; ms: number; body: string }> }> =
    [];
  try {
    while (Date.now() - pausedAt < 3000) {
      const eventId = randomUUID();
      const at = Date.now();
      const answer = call('POST', '/v1/audit', { key: tenant.key, body: write(eventId) }).then((a) => ({
        status: a.status,
        body: a.body,
        ms: Date.now() - at,
      }));
      sent.push({ eventId, at, answer });
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    redis.resume();
  }
  const resumedAt = Date.now();
  const answers = await Promise.all(sent.map(async (s) => ({ ...s, ...(await s.answer) })));
  for (const a of answers) {
    assert.ok([202, 503].includes(a.status), `${a.status} ${a.body}`);
    // A hang detector: the bound is 2 s from the request (plus a busy machine's delays).
    assert.ok(a.ms < 6000, `answered after ${a.ms} ms`);
  }
  const boardAnswer = await board;
  assert.is(boardAnswer.status, 503, `Bull Board during the pause: ${boardAnswer.body}`);
  // Sent more than the bound before SIGCONT: nothing could answer them in time.
  const early = answers.filter((a) => a.at < resumedAt - 2500);
  assert.ok(early.length > 0, 'writes sent early in the pause');
  for (const a of early) assert.is(a.status, 503, `a write ${resumedAt - a.at} ms before SIGCONT: ${a.body}`);

  const stored = await storedOnceBack('the pause');
  const refused = answers.filter((a) => a.status === 503).map((a) => a.eventId);
  assert.equal(
    refused.filter((id) => stored.includes(id)),
    [],
    'a write answered 503 was stored',
  );
  const queued = await redis.admin(async (r) => (await r.keys('*')).join('\n'));
  for (const id of refused) assert.not.match(queued, id);
  for (const a of answers.filter((x) => x.status === 202)) assert.ok(stored.includes(a.eventId), 'a 202 write stored');
});

test('Redis at maxmemory: 503 + Retry-After, /readyz not ready with reason out_of_memory, counted in a metric', async () => {
  await redis.admin((r) => r.config('SET', 'maxmemory', '1'));
  try {
    const res = await call('POST', '/v1/audit', { key: tenant.key, body: write(randomUUID()) });
    assert.is(res.status, 503, res.body);
    assert.ok(res.retryAfter);
    assert.match(res.body, 'out of memory');
    const ready = await call('GET', '/readyz');
    assert.is(ready.status, 503, ready.body);
    const report = JSON.parse(ready.body) as {
      failing: string[];
      checks: Record<string, { ok: boolean; reason?: string }>;
    };
    assert.ok(report.failing.includes('redis'), ready.body);
    assert.equal(report.checks.redis, { ok: false, reason: 'out_of_memory' });
    const metrics = await call('GET', '/metrics');
    assert.match(metrics.body, /bulwark_redis_oom_total\{source="api"\} [1-9]/);
    assert.match(metrics.body, /bulwark_redis_oom_total\{source="readiness"\} [1-9]/);
    assert.match(metrics.body, /bulwark_api_unavailable_total\{dependency="redis",reason="out_of_memory"\} [1-9]/);
  } finally {
    await redis.admin((r) => r.config('SET', 'maxmemory', '0'));
  }
  await waitFor(async () => (await call('GET', '/readyz')).status === 200, '/readyz ready again', 20_000, 200);
  assert.is((await call('POST', '/v1/audit', { key: tenant.key, body: write(randomUUID()) })).status, 202);
});

test.run();
