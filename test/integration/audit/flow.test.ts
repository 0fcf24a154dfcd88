// The whole path in one process: producer → BullMQ → worker → Postgres, then the
// chain verified, duplicates and retries, unknown tenants, and tampering found.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue, QueueEvents } from 'bullmq';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/index.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { verifyChains } from '../../../lib/audit/verify.js';
import { processAuditVerify } from '../../../workers/audit/verify-worker.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { obliterateQueues } from '../../helpers/queues.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let queue: Queue;
let events: QueueEvents;
let eventsConnection: ReturnType<RunningBulwark['ctx']['redis']['duplicate']>;
let tenantA: string;
let tenantB: string;
const logs = captureLogs();

const count = async (tenantId: string) =>
  Number(
    (
      await superuserQuery(
        db.url,
        `SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1 AND action NOT IN ('tenant:created', 'apikey:created')`,
        [tenantId],
      )
    ).rows[0].n,
  );

test.before(async () => {
  db = await createTestDatabase();
  const config = testConfig(db.url);
  bulwark = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream });
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
  const seqs = await superuserQuery(
    db.url,
    'SELECT tenant_id, array_agg(seq ORDER BY seq)::text[] AS s FROM audit_log GROUP BY tenant_id',
  );
  for (const r of seqs.rows) {
    assert.equal(
      r.s,
      Array.from({ length: r.s.length }, (_, i) => String(i + 1)),
      'seq must be 1..N',
    );
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
  const many = await producer.audit.writeMany([
    entry(tenantA, { eventId: 'dup-evt-2' }),
    entry(tenantA, { eventId: 'dup-evt-2' }),
  ]);
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
    entry(tenantA, {
      before: { password: 'hunter2', profile: { apiKey: 'k-123', name: 'Ann' } },
      metadata: { authorization: 'Bearer abc' },
    }),
  );
  const row = await waitFor(
    async () =>
      (await superuserQuery(db.url, 'SELECT before_state, metadata FROM audit_entries WHERE event_id = $1', [eventId]))
        .rows[0],
    'the row',
  );
  assert.equal(row.before_state, { password: '[REDACTED]', profile: { apiKey: '[REDACTED]', name: 'Ann' } });
  assert.equal(row.metadata, { authorization: '[REDACTED]' });
});

test('a job added straight to the queue (not through the producer) is normalised and redacted by the worker', async () => {
  // Another producer, or a hand-made job: the worker is a boundary of its own.
  const eventId = `direct-${Date.now()}`;
  const job = await queue.add('write', {
    v: 1,
    entries: [
      {
        ...entry(tenantA.toUpperCase()),
        eventId,
        occurredAt: '2026-11-26T10:00:00.000Z',
        before: { password: 'hunter2', name: 'Ann' },
        metadata: { token: 'tok-123' },
      },
    ],
  });
  const result = (await job.waitUntilFinished(events, 20_000)) as { written: number };
  assert.is(result.written, 1);
  const row = (
    await superuserQuery(
      db.url,
      'SELECT tenant_id::text, before_state, metadata FROM audit_entries WHERE event_id = $1',
      [eventId],
    )
  ).rows[0];
  assert.is(row.tenant_id, tenantA, 'the upper-case tenant id was lower-cased');
  assert.equal(row.before_state, { password: '[REDACTED]', name: 'Ann' });
  assert.equal(row.metadata, { token: '[REDACTED]' });
  assert.ok((await verifyChains(bulwark.ctx.prisma, { tenantId: tenantA })).ok);
});

test('a run over intact tenants walks exactly the tenants rows, in id order, with progress over their heads', async () => {
  const ids = (await superuserQuery(db.url, 'SELECT id::text AS id FROM tenants ORDER BY id')).rows.map(
    (r) => r.id as string,
  );
  const heads = (
    await superuserQuery(
      db.url,
      'SELECT tenant_id::text AS id, last_seq::int AS n FROM audit_chain_heads ORDER BY tenant_id',
    )
  ).rows;
  const total = heads.reduce((n, h) => n + (h.n as number), 0);
  const progress: Array<[number, number]> = [];
  const report = await verifyChains(bulwark.ctx.prisma, { pageSize: 150, onProgress: (d, t) => progress.push([d, t]) });
  assert.ok(report.ok);
  assert.equal(
    report.tenants,
    ids.map((id) => ({ tenantId: id, entries: heads.find((h) => h.id === id)!.n as number, ok: true })),
  );
  assert.equal(progress[0], [0, total]);
  assert.equal(progress.at(-1), [total, total]);
});

async function tamper(sql: string, params: unknown[]) {
  await superuserQuery(
    db.url,
    `SET session_replication_role = replica; ${sql}`.replace(/\$(\d)/g, (_m, d) =>
      String(params[Number(d) - 1] === undefined ? '' : `'${params[Number(d) - 1]}'`),
    ),
  );
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
  const last = (
    await superuserQuery(db.url, 'SELECT max(seq)::text AS s FROM audit_log WHERE tenant_id = $1', [tenantB])
  ).rows[0].s;
  await tamper(`DELETE FROM audit_log WHERE tenant_id = $1 AND seq = ${last}`, [tenantB]);
  const tail = (await verifyChains(bulwark.ctx.prisma, { tenantId: tenantB })).tenants[0]!;
  assert.equal([tail.firstBad?.seq, tail.firstBad?.problem], [String(last), 'head']);
});

test('a tenant row deleted past the foreign keys: its chain is still found, reported broken (tenant) in id order, counted by the job', async () => {
  const gone = (await createTenant(bulwark.ctx.prisma, { name: 'flow-gone' })).id;
  // Entries and the head reference tenants ON DELETE RESTRICT: only a session that skips
  // the foreign-key triggers can delete the row.
  await tamper(`DELETE FROM tenants WHERE id = $1`, [gone]);
  assert.is(
    (await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1', [gone])).rows[0].n,
    2,
  );
  const ids = (await superuserQuery(db.url, 'SELECT id::text AS id FROM tenants ORDER BY id')).rows.map(
    (r) => r.id as string,
  );
  const progress: Array<[number, number]> = [];
  const report = await verifyChains(bulwark.ctx.prisma, { onProgress: (d, t) => progress.push([d, t]) });
  assert.not.ok(report.ok);
  assert.equal(
    report.tenants.map((t) => t.tenantId),
    [...ids, gone].sort(),
    'every tenant row and the orphaned chain, in id order',
  );
  const bad = report.tenants.find((t) => t.tenantId === gone)!;
  assert.equal(bad, {
    tenantId: gone,
    entries: 0,
    ok: false,
    firstBad: { seq: '1', problem: 'tenant', detail: "the tenant's row is missing from tenants (2 entries)" },
  });
  // The orphaned chain is not walked, so its head is not in the progress total.
  const walked = (
    await superuserQuery(
      db.url,
      'SELECT coalesce(sum(h.last_seq), 0)::int AS n FROM audit_chain_heads h JOIN tenants t ON t.id = h.tenant_id',
    )
  ).rows[0].n as number;
  assert.equal(progress[0], [0, walked]);

  const one = await verifyChains(bulwark.ctx.prisma, { tenantId: gone });
  assert.equal(one, { ok: false, tenants: [bad] });

  const summary = await processAuditVerify({ v: 1 }, bulwark.ctx);
  assert.not.ok(summary.ok);
  assert.equal(
    summary.broken.find((b) => b.tenantId === gone),
    { tenantId: gone, seq: '1', problem: 'tenant' },
  );
  assert.is(summary.broken.length, 3, 'tenantA, tenantB (tampered above) and the orphaned chain');
  assert.is((await bulwark.ctx.metrics.auditBrokenChains.get()).values[0]!.value, 3);
  assert.ok(
    logs
      .events()
      .some((e) => e.event === 'audit_chain_broken' && e.tenant_id === gone && e.seq === '1' && e.problem === 'tenant'),
    logs.text(),
  );
});

test.run();
