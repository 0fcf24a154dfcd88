// The producer against a real Redis: every validation error path of audit.write,
// writeMany and alert.send names each bad field and enqueues nothing; valid writes put
// normalised, redacted jobs in Redis; security entries of severity high/critical raise
// exactly one alert job per eventId. Each test runs under its own random queue prefix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ALERT_QUEUE, alertJobSchema } from '../../../lib/contracts/alert.js';
import { AUDIT_WRITE_QUEUE, auditWriteJobSchema, type AuditEntryInput } from '../../../lib/contracts/audit.js';
import { ValidationError } from '../../../lib/errors.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { randomPrefix, REDIS_URL } from '../../helpers/env.js';
import { entry } from '../../helpers/fixtures.js';
import { cleanup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

const TENANT = '6f1c2a4e-1b2c-4d3e-8f40-123456789abc';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });

interface Ctx {
  producer: Producer;
  audit: Queue;
  alert: Queue;
  /** Jobs in every state of both queues. */
  total(): Promise<number>;
}

/** Run `fn` with a producer and queue handles under a fresh prefix; close them after. */
async function withProducer(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const prefix = randomPrefix('pv');
  // The producer shares the file's connection: closing a producer that opened its own
  // connection while BullMQ is still initialising its queues races (see the report:
  // producers/index.ts close() quits the connection under an in-flight INFO).
  const producer = createProducer({ queuePrefix: prefix, connection: redis });
  const audit = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix });
  const alert = new Queue(ALERT_QUEUE, { connection: redis, prefix });
  const sum = async (q: Queue) => Object.values(await q.getJobCounts()).reduce((a, b) => a + b, 0);
  try {
    await fn({ producer, audit, alert, total: async () => (await sum(audit)) + (await sum(alert)) });
  } finally {
    await cleanup([
      ['producer', () => producer.close()],
      ['queues', () => Promise.all([audit.close(), alert.close()])],
      ['obliterate', () => obliterateQueues(prefix)],
    ])();
  }
}

/** The field paths a rejected call names; fails unless it is a ValidationError. */
async function rejectedPaths(call: () => Promise<unknown>): Promise<{ paths: string[]; message: string }> {
  try {
    await call();
  } catch (err) {
    assert.instance(err, ValidationError, String(err));
    const v = err as ValidationError;
    return { paths: v.fields.map((f) => f.path), message: v.message };
  }
  throw new Error('expected a ValidationError');
}

const ai = { actorType: 'ai' as const, reason: 'model decided', confidence: 0.9 };
const WRITE_CASES: Array<[what: string, input: Record<string, unknown>, paths: string[]]> = [
  ['missing tenantId', { ...entry(TENANT), tenantId: undefined }, ['tenantId']],
  ['non-uuid tenantId', entry('tenant-1'), ['tenantId']],
  ['bad actorType', entry(TENANT, { actorType: 'robot' as never }), ['actorType']],
  ['bad action format', entry(TENANT, { action: 'TaskCompleted' }), ['action']],
  ['action too long', entry(TENANT, { action: `task:${'x'.repeat(100)}` }), ['action']],
  ['empty resourceType', entry(TENANT, { resourceType: '' }), ['resourceType']],
  ['ai actor without reason and confidence', entry(TENANT, { actorType: 'ai' }), ['reason', 'confidence']],
  ['ai actor with a blank reason', entry(TENANT, { ...ai, reason: '   ' }), ['reason']],
  ['confidence above 1', entry(TENANT, { ...ai, confidence: 1.01 }), ['confidence']],
  ['confidence below 0', entry(TENANT, { ...ai, confidence: -0.1 }), ['confidence']],
  ['security action without severity', entry(TENANT, { action: 'security:auth-failed' }), ['severity']],
  ['bad severity', entry(TENANT, { action: 'security:auth-failed', severity: 'urgent' as never }), ['severity']],
  ['bad ip', entry(TENANT, { ip: '300.1.2.3' }), ['ip']],
  ['bad eventId', entry(TENANT, { eventId: 'has space' }), ['eventId']],
  ['occurredAt without a zone', entry(TENANT, { occurredAt: '2026-01-15T09:30:00' }), ['occurredAt']],
  // toISOString() gives "+010000-…" and "-000001-…": the worker would refuse the job after the write resolved.
  ['an occurredAt Date after the year 9999', entry(TENANT, { occurredAt: new Date(Date.UTC(10000, 0, 1)) }), ['occurredAt']],
  ['an occurredAt Date before the year 0', entry(TENANT, { occurredAt: new Date(Date.UTC(-1, 0, 1)) }), ['occurredAt']],
  ['an occurredAt in 9999 whose zone puts it in 10000 UTC', entry(TENANT, { occurredAt: '9999-12-31T23:30:00-01:00' }), ['occurredAt']],
  ['NUL in a string', entry(TENANT, { actorId: 'u\u00001' }), ['actorId']],
  ['lone surrogate in a before-state key', entry(TENANT, { before: { ['k\ud800']: 1 } }), ['before']],
  ['lone surrogate in a before-state value', entry(TENANT, { before: { note: 'x\udc00y' } }), ['before']],
  ['oversize before-state', entry(TENANT, { before: { blob: 'x'.repeat(70_000) } }), ['before']],
  ['several bad fields at once', entry('nope', { actorType: 'ai', eventId: '-x', actorId: 'a\u0000', occurredAt: 'yesterday' }), ['tenantId', 'eventId', 'actorId', 'occurredAt', 'reason', 'confidence']],
];

for (const [what, input, paths] of WRITE_CASES) {
  test(`audit.write rejects ${what}, naming ${paths.join(' and ')}, and enqueues nothing`, () =>
    withProducer(async (c) => {
      const r = await rejectedPaths(() => c.producer.audit.write(input as AuditEntryInput));
      assert.equal([...r.paths].sort(), [...paths].sort(), r.message);
      for (const p of paths) assert.match(r.message, `${p}: `);
      assert.is(await c.total(), 0);
    }));
}

test('audit.write rejects an unknown field (strict) naming it, and enqueues nothing', () =>
  withProducer(async (c) => {
    const r = await rejectedPaths(() => c.producer.audit.write({ ...entry(TENANT), colour: 'red' } as AuditEntryInput));
    assert.match(r.message, 'colour');
    assert.is(await c.total(), 0);
  }));

test('writeMany: empty, too many, or one bad entry among good ones enqueue nothing', () =>
  withProducer(async (c) => {
    assert.equal((await rejectedPaths(() => c.producer.audit.writeMany([]))).paths, ['']);
    const many = Array.from({ length: 1001 }, () => entry(TENANT));
    assert.match((await rejectedPaths(() => c.producer.audit.writeMany(many))).message, '1 to 1000');
    const mixed = [entry(TENANT), entry(TENANT), entry(TENANT), { ...entry(TENANT), tenantId: 'bad' }, entry(TENANT, { actorType: 'ai' })];
    const r = await rejectedPaths(() => c.producer.audit.writeMany(mixed));
    assert.equal(r.paths, ['3.tenantId', '4.reason', '4.confidence']);
    assert.is(await c.total(), 0);
  }));

test('a valid write stores v:1, UTC occurredAt, redacted state; eventId generated or kept', () =>
  withProducer(async (c) => {
    const state = { status: 'open', password: 'pw-S3cr1', nested: { apiKey: 'ak-S3cr2', list: [{ token: 'tok-S3cr3' }] } };
    const w1 = await c.producer.audit.write(entry(TENANT.toUpperCase(), { before: state, after: { cookie: 'ck-S3cr4', ok: true }, metadata: { authorization: 'au-S3cr5' }, occurredAt: '2026-01-15T10:30:00+01:00' }));
    assert.match(w1.eventId, UUID);
    const w2 = await c.producer.audit.write(entry(TENANT, { eventId: 'caller-event-1' }));
    assert.is(w2.eventId, 'caller-event-1');
    const job = await c.audit.getJob(w1.jobId);
    const data = job!.data as { v: number; entries: Array<Record<string, unknown>> };
    assert.ok(auditWriteJobSchema.safeParse(data).success, 'the job matches the contract');
    assert.is(data.v, 1);
    const [e] = data.entries;
    assert.equal([e!.eventId, e!.tenantId, e!.occurredAt], [w1.eventId, TENANT, '2026-01-15T09:30:00.000Z']);
    assert.equal(e!.before, { status: 'open', password: '[REDACTED]', nested: { apiKey: '[REDACTED]', list: [{ token: '[REDACTED]' }] } });
    assert.equal(e!.after, { cookie: '[REDACTED]', ok: true });
    assert.equal(e!.metadata, { authorization: '[REDACTED]' });
    const raw = JSON.stringify(data);
    for (const s of ['pw-S3cr1', 'ak-S3cr2', 'tok-S3cr3', 'ck-S3cr4', 'au-S3cr5']) assert.not.match(raw, s);
    const d2 = (await c.audit.getJob((await c.producer.audit.write(entry(TENANT))).jobId))!.data.entries[0]!;
    assert.match(d2.occurredAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }));

test('a security entry of severity high raises one alert job per eventId; low and medium none', () =>
  withProducer(async (c) => {
    const sec = (severity: 'low' | 'medium' | 'high' | 'critical', eventId: string) => entry(TENANT, { action: 'security:auth-failed', severity, eventId });
    await c.producer.audit.write(sec('low', 'sec-low'));
    await c.producer.audit.write(sec('medium', 'sec-medium'));
    assert.is(await c.alert.count(), 0);
    await c.producer.audit.write(sec('high', 'sec-high'));
    assert.is(await c.alert.count(), 1);
    await c.producer.audit.write(sec('high', 'sec-high'));
    await c.producer.audit.writeMany([sec('high', 'sec-high')]);
    const jobs = await c.alert.getJobs(['waiting', 'delayed', 'prioritized']);
    assert.is(jobs.length, 1, 'the same eventId does not add a second alert');
    const parsed = alertJobSchema.safeParse(jobs[0]!.data);
    assert.ok(parsed.success, 'the alert job matches the alert contract');
    assert.equal([parsed.data!.alert.severity, parsed.data!.alert.tenantId, parsed.data!.alert.source?.auditEventId], ['high', TENANT, 'sec-high']);
    await c.producer.audit.write(sec('critical', 'sec-critical'));
    assert.is(await c.alert.count(), 2);
    assert.is(await c.audit.count(), 6, 'every audit write was still enqueued');
  }));

test('writeMany with one eventId twice: only the first, the one stored, may raise an alert', () =>
  withProducer(async (c) => {
    const plain = entry(TENANT, { eventId: 'shared-id' });
    const security = entry(TENANT, { action: 'security:auth-failed', severity: 'critical', eventId: 'shared-id' });
    await c.producer.audit.writeMany([plain, security]);
    assert.is(await c.alert.count(), 0, 'the stored entry (the first) is no security entry');
    await c.producer.audit.writeMany([{ ...security, eventId: 'other-id' }, { ...plain, eventId: 'other-id' }]);
    assert.is(await c.alert.count(), 1, 'a security entry first raises its alert');
  }));

test('alert.send: validation errors name each field; a valid alert is enqueued once per id', () =>
  withProducer(async (c) => {
    const good = { tenantId: TENANT, type: 'disk.full', severity: 'warning' as const, title: 'Disk almost full' };
    const r = await rejectedPaths(() => c.producer.alert.send({ tenantId: 'x', type: 'Bad Type', severity: 'urgent', title: '' } as never));
    assert.equal([...r.paths].sort(), ['severity', 'tenantId', 'title', 'type']);
    assert.equal((await rejectedPaths(() => c.producer.alert.send({ ...good, runbookUrl: 'ftp://x/y' }))).paths, ['runbookUrl']);
    assert.equal((await rejectedPaths(() => c.producer.alert.send({ ...good, id: 'not-uuid' }))).paths, ['id']);
    assert.match((await rejectedPaths(() => c.producer.alert.send({ ...good, extra: 1 } as never))).message, 'extra');
    assert.is(await c.total(), 0);
    const sent = await c.producer.alert.send(good);
    assert.match(sent.alertId, UUID);
    const data = (await c.alert.getJob(sent.jobId))!.data;
    assert.ok(alertJobSchema.safeParse(data).success);
    assert.equal([data.v, data.alert.id, data.alert.type], [1, sent.alertId, 'disk.full']);
    await c.producer.alert.send({ ...good, id: sent.alertId });
    assert.is(await c.alert.count(), 1);
  }));

test('createProducer rejects bad options before connecting', async () => {
  for (const [opts, path] of [[{ queuePrefix: 'a:b' }, 'queuePrefix'], [{ queuePrefix: '' }, 'queuePrefix'], [{ redisUrl: 'http://x' }, 'redisUrl'], [{ coalesceWrites: 'yes' }, 'coalesceWrites'], [{ runbookBaseUrl: 'docs/runbooks' }, 'runbookBaseUrl'], [{ runbookBaseUrl: 'ftp://x/runbooks' }, 'runbookBaseUrl']] as const) {
    const r = await rejectedPaths(async () => createProducer(opts as never));
    assert.equal(r.paths, [path]);
  }
  assert.match((await rejectedPaths(async () => createProducer({ nope: 1 } as never))).message, 'nope');
});

test.after(cleanup([['redis', () => redis.quit()]]));

test.run();
