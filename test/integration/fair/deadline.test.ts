// Issue 15 defect 2's contract under a hung Redis ("a request answered with anything but
// 2xx was never enqueued"), at the producer the HTTP API uses: with enqueueTimeoutMs,
// a call refused at its bound is never stored, even when Redis later runs the command
// it was sent (SIGSTOP, then SIGCONT), because the storing script carries a deadline
// (lib/fair/deadline.ts). Without the deadline a command Redis ran after the bound
// stored its job. On a Redis of the test's own: the shared one is never paused.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { createApiRedis, untilReady, type RedisClient } from '../../../lib/clients/redis.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { randomPrefix } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startOwnRedis, type OwnRedis } from '../../helpers/own-redis.js';

/** Generous, so a busy machine's delays never decide an outcome; the deadline is half of it. */
const BUDGET_MS = 4000;
const tenant = randomUUID();
let redis: OwnRedis;
let connection: RedisClient;
let producer: Producer;
let prefix: string;

test.before(
  setup(async () => {
    redis = await startOwnRedis();
    connection = createApiRedis({ redisUrl: redis.url, apiRedisTimeoutMs: 30_000 });
    connection.on('error', () => undefined);
    await untilReady(connection, 10_000);
    prefix = randomPrefix('deadline');
    producer = createProducer({ connection, queuePrefix: prefix, enqueueTimeoutMs: BUDGET_MS });
  }),
);

test.after(
  cleanup([
    ['resume', () => redis?.resume()],
    ['close producer', () => producer?.close()],
    ['quit', () => connection?.quit()],
    ['stop redis', () => redis?.stop()],
  ]),
);

const entry = (action = 'task:completed') => ({
  tenantId: tenant,
  eventId: randomUUID(),
  actorType: 'user' as const,
  actorId: 'u1',
  action,
  resourceType: 'task',
  resourceId: 't1',
  ...(action.startsWith('security:') ? { severity: 'high' as const } : {}),
});

/** Every value Redis holds for the queue prefix, as one string: where an eventId would show. */
async function everythingStored(): Promise<string> {
  return redis.admin(async (r) => {
    const out: string[] = [];
    for (const key of await r.keys(`${prefix}*`)) {
      const type = await r.type(key);
      if (type === 'hash') out.push(JSON.stringify(await r.hgetall(key)));
      else if (type === 'zset') out.push((await r.zrange(key, 0, -1)).join('\n'));
      else if (type === 'list') out.push((await r.lrange(key, 0, -1)).join('\n'));
      else if (type === 'string') out.push((await r.get(key)) ?? '');
      out.push(key);
    }
    return out.join('\n');
  });
}

/** Pause Redis for `ms` around `fn`'s calls; resolves with how each call settled and when. */
async function pausedFor(ms: number, calls: Array<() => Promise<unknown>>) {
  redis.pause();
  const start = Date.now();
  const settled = calls.map((c) =>
    c().then(
      (value) => ({ ok: true as const, value, ms: Date.now() - start }),
      (err: Error) => ({ ok: false as const, err, ms: Date.now() - start }),
    ),
  );
  await new Promise((r) => setTimeout(r, ms));
  redis.resume();
  return Promise.all(settled);
}

test('paused past the deadline: every call refused with RedisDeadlineError, and nothing is stored after SIGCONT', async () => {
  const single = entry();
  const batch = [entry(), entry()];
  // A security entry is parked with its alert, in one call: the other storing path.
  const security = entry('security:api-key-denied');
  const alertId = randomUUID();
  const results = await pausedFor(BUDGET_MS / 2 + 700, [
    () => producer.audit.write(single),
    () => producer.audit.writeMany(batch),
    () => producer.audit.write(security),
    () => producer.alert.send({ tenantId: tenant, id: alertId, type: 'test.paused', severity: 'high', title: 'x' }),
  ]);
  for (const r of results) {
    assert.not.ok(r.ok, 'refused');
    if (!r.ok) assert.is(r.err.name, 'RedisDeadlineError', r.err.message);
    assert.ok(r.ms <= BUDGET_MS + 1000, `refused within the bound (${r.ms} ms)`);
  }
  // Redis runs what it was sent now; give it time, then look everywhere.
  await new Promise((r) => setTimeout(r, 500));
  const stored = await everythingStored();
  for (const id of [single.eventId, ...batch.map((e) => e.eventId), security.eventId, alertId])
    assert.not.ok(stored.includes(id), `${id} is in Redis after its call was refused`);
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection, prefix });
  const counts = await queue.getJobCounts();
  await queue.close();
  assert.equal(
    Object.values(counts).reduce((a, b) => a + b, 0),
    0,
    `no audit job: ${JSON.stringify(counts)}`,
  );
});

test('paused longer than the bound: refused at the bound, and what Redis runs at SIGCONT stores nothing', async () => {
  const single = entry();
  const security = entry('security:api-key-denied');
  const results = await pausedFor(BUDGET_MS + 500, [
    () => producer.audit.write(single),
    () => producer.audit.write(security),
  ]);
  for (const r of results) {
    assert.not.ok(r.ok, 'refused');
    if (!r.ok) assert.is(r.err.name, 'RedisDeadlineError', r.err.message);
    assert.ok(r.ms < BUDGET_MS + 500, `refused at the bound, before SIGCONT (${r.ms} ms)`);
  }
  await new Promise((r) => setTimeout(r, 500));
  const stored = await everythingStored();
  for (const id of [single.eventId, security.eventId]) assert.not.ok(stored.includes(id), `${id} stored after SIGCONT`);
});

test('paused briefly: the calls resolve once Redis runs them before the deadline, and the jobs are in Redis', async () => {
  const single = entry();
  const security = entry('security:api-key-denied');
  const results = await pausedFor(300, [() => producer.audit.write(single), () => producer.audit.write(security)]);
  for (const r of results) assert.ok(r.ok, r.ok ? '' : r.err.message);
  const stored = await everythingStored();
  assert.ok(stored.includes(single.eventId), 'the entry is in Redis');
  assert.ok(stored.includes(security.eventId), 'the security entry is in Redis');
});

test('a budget out of range is refused when the producer is made', () => {
  assert.throws(
    () => createProducer({ connection, queuePrefix: prefix, enqueueTimeoutMs: 5 }),
    /enqueueTimeoutMs: must be at least 100 ms/,
  );
});

test.run();
