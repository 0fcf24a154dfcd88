// The whole path in one process: producer → BullMQ → worker → Postgres, then the
// chain verified, duplicates and retries, unknown tenants, and tampering found.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue, QueueEvents } from 'bullmq';
import { AUDIT_WRITE_QUEUE } from '../../lib/contracts/index.js';
import { createTenant } from '../../lib/tenants.js';
import { createProducer, type Producer } from '../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../workers/main.js';
import { verifyChains } from '../../workers/audit/verify.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../helpers/db.js';
import { testConfig, waitFor } from '../helpers/env.js';
import { entry } from '../helpers/fixtures.js';
import { obliterateQueues } from '../helpers/queues.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let queue: Queue;
let events: QueueEvents;
let eventsConnection: ReturnType<RunningBulwark['ctx']['redis']['duplicate']>;
let tenantA: string;
let tenantB: string;

const count = async (tenantId: string) =>
  Number((await superuserQuery(db.url, `SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1 AND action NOT IN ('tenant:created', 'apikey:created')`, [tenantId])).rows[0].n);

test.before(async () => {
  db = await createTestDatabase();
  const config = testConfig(db.url);
  bulwark = await startBulwark(config, { http: false, scheduler: false });
  tenantA = (await createTenant(bulwark.ctx.prisma, { name: 'flow-a' })).id;
  tenantB = (await createTenant(bulwark.ctx.prisma, { name: 'flow-b' })).id;
  producer = createProducer({ redisUrl: config.redisUrl, queuePrefix: config.queuePrefix });
  queue = new Queue(AUDIT_WRITE_QUEUE, { connection: bulwark.ctx.redis, prefix: config.queuePrefix });
  eventsConnection = bulwark.ctx.redis.duplicate();
  events = new QueueEvents(AUDIT_WRITE_QUEUE, { connection: eventsConnection, prefix: config.queuePrefix });
  await events.waitUntilReady();
});

test.after(async () => {
  await producer.close();
  await events.close();
  await eventsConnection.quit();
  await queue.close();
  await bulwark.stop();
  await obliterateQueues(bulwark.ctx.config.queuePrefix);
  await db.drop();
});

test('entries from concurrent jobs land in gap-free per-tenant chains that verify', async () => {
  const writes = Array.from({ length: 300 }, (_, i) => producer.audit.write(entry(i % 3 === 0 ? tenantB : tenantA)));
  const many = producer.audit.writeMany(Array.from({ length: 200 }, () => entry(tenantA)));
  await Promise.all([...writes, many]);
  await waitFor(async () => (await count(tenantA)) === 400 && (await count(tenantB)) === 100, 'all 500 entries');
  const seqs = await superuserQuery(db.url, 'SELECT tenant_id, array_agg(seq ORDER BY seq)::text[] AS s FROM audit_log GROUP BY tenant_id');
  for (const r of seqs.rows) {
    assert.equal(r.s, Array.from({ length: r.s.length }, (_, i) => String(i + 1)), 'seq must be 1..N');
  }
  const report = await verifyChains(bulwark.ctx.prisma);
  assert.ok(report.ok, JSON.stringify(report));
});

test('the same eventId enqueued twice, or a job retried, never makes two rows', async () => {
  const e = entry(tenantA, { eventId: 'dup-evt-1' });
  const before = await count(tenantA);
  const first = await producer.audit.write(e);
  const firstResult = await queue.getJob(first.jobId).then((j) => j!.waitUntilFinished(events, 20_000));
  const second = await producer.audit.write(e);
  const secondResult = await queue.getJob(second.jobId).then((j) => j!.waitUntilFinished(events, 20_000));
  assert.is(firstResult.written, 1);
  assert.is(secondResult.duplicates, 1);
  assert.is(secondResult.entries[0].seq, firstResult.entries[0].seq);
  // A retry after a crash re-runs the same payload: add it again as BullMQ would.
  const job = await queue.getJob(first.jobId);
  const replay = await queue.add('write', job!.data);
  const replayResult = await replay.waitUntilFinished(events, 20_000);
  assert.is(replayResult.duplicates, 1);
  // Duplicates inside one writeMany job are stored once, too.
  const many = await producer.audit.writeMany([entry(tenantA, { eventId: 'dup-evt-2' }), entry(tenantA, { eventId: 'dup-evt-2' })]);
  const manyResult = await queue.getJob(many.jobId).then((j) => j!.waitUntilFinished(events, 20_000));
  assert.equal([manyResult.written, manyResult.duplicates], [1, 1]);
  assert.is(await count(tenantA), before + 2);
  assert.ok((await verifyChains(bulwark.ctx.prisma, { tenantId: tenantA })).ok);
});

test('an entry for an unknown tenant fails as unrecoverable; its neighbours are written', async () => {
  const ghost = '00000000-0000-4000-8000-000000000000';
  const before = await count(tenantB);
  const { jobId } = await producer.audit.writeMany([entry(tenantB), entry(ghost), entry(tenantB)]);
  const job = await queue.getJob(jobId);
  try {
    await job!.waitUntilFinished(events, 20_000);
    assert.unreachable('job should fail');
  } catch (err) {
    assert.match((err as Error).message, /unknown tenant\(s\): 00000000-0000-4000-8000-000000000000/);
  }
  const failed = await queue.getJob(jobId);
  assert.is(failed!.attemptsMade, 1, 'unrecoverable: no retry');
  assert.is(await count(tenantB), before + 2);
});

test('secret-looking fields are stored as [REDACTED]', async () => {
  const { eventId } = await producer.audit.write(
    entry(tenantA, { before: { password: 'hunter2', profile: { apiKey: 'k-123', name: 'Ann' } }, metadata: { authorization: 'Bearer abc' } }),
  );
  const row = await waitFor(async () => (await superuserQuery(db.url, 'SELECT before_state, metadata FROM audit_log WHERE event_id = $1', [eventId])).rows[0], 'the row');
  assert.equal(row.before_state, { password: '[REDACTED]', profile: { apiKey: '[REDACTED]', name: 'Ann' } });
  assert.equal(row.metadata, { authorization: '[REDACTED]' });
});

test('a job added straight to the queue (not through the producer) is normalised and redacted by the worker', async () => {
  // Another producer, or a hand-made job: the worker is a boundary of its own.
  const eventId = `direct-${Date.now()}`;
  const job = await queue.add('write', {
    v: 1,
    entries: [{ ...entry(tenantA.toUpperCase()), eventId, occurredAt: '2026-11-26T10:00:00.000Z', before: { password: 'hunter2', name: 'Ann' }, metadata: { token: 'tok-123' } }],
  });
  const result = (await job.waitUntilFinished(events, 20_000)) as { written: number };
  assert.is(result.written, 1);
  const row = (await superuserQuery(db.url, 'SELECT tenant_id::text, before_state, metadata FROM audit_log WHERE event_id = $1', [eventId])).rows[0];
  assert.is(row.tenant_id, tenantA, 'the upper-case tenant id was lower-cased');
  assert.equal(row.before_state, { password: '[REDACTED]', name: 'Ann' });
  assert.equal(row.metadata, { token: '[REDACTED]' });
  assert.ok((await verifyChains(bulwark.ctx.prisma, { tenantId: tenantA })).ok);
});

async function tamper(sql: string, params: unknown[]) {
  await superuserQuery(db.url, `SET session_replication_role = replica; ${sql}`.replace(/\$(\d)/g, (_m, d) => String(params[Number(d) - 1] === undefined ? '' : `'${params[Number(d) - 1]}'`)));
}

test('verification fails at the right seq after a superuser alters, relinks, removes or truncates', async () => {
  assert.ok((await verifyChains(bulwark.ctx.prisma, { tenantId: tenantA })).ok);
  await tamper(`UPDATE audit_log SET action = 'task:forged' WHERE tenant_id = $1 AND seq = 7`, [tenantA]);
  let r = (await verifyChains(bulwark.ctx.prisma, { tenantId: tenantA })).tenants[0]!;
  assert.equal([r.ok, r.firstBad?.seq, r.firstBad?.problem], [false, '7', 'content']);

  await tamper(`UPDATE audit_log SET prev_hash = repeat('1', 64) WHERE tenant_id = $1 AND seq = 3`, [tenantA]);
  r = (await verifyChains(bulwark.ctx.prisma, { tenantId: tenantA })).tenants[0]!;
  assert.equal([r.firstBad?.seq, r.firstBad?.problem], ['3', 'link']);

  await tamper(`DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 2`, [tenantA]);
  r = (await verifyChains(bulwark.ctx.prisma, { tenantId: tenantA })).tenants[0]!;
  assert.equal([r.firstBad?.seq, r.firstBad?.problem], ['2', 'numbering']);

  const b = (await verifyChains(bulwark.ctx.prisma, { tenantId: tenantB })).tenants[0]!;
  assert.ok(b.ok, 'the other tenant is untouched');
  const last = (await superuserQuery(db.url, 'SELECT max(seq)::text AS s FROM audit_log WHERE tenant_id = $1', [tenantB])).rows[0].s;
  await tamper(`DELETE FROM audit_log WHERE tenant_id = $1 AND seq = ${last}`, [tenantB]);
  const tail = (await verifyChains(bulwark.ctx.prisma, { tenantId: tenantB })).tenants[0]!;
  assert.equal([tail.firstBad?.seq, tail.firstBad?.problem], [String(last), 'head']);
});

test.run();
