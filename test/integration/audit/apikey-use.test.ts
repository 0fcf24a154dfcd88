// Audit of API key use: an `apikey:used` entry for every clock hour a key was used in,
// once however many requests and API processes used it, none lost when a flush
// fails, and the last-used time written with it. Real producer, worker, Redis, Postgres.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import type { AuditEntryInput } from '../../../lib/contracts/audit.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { createAuthenticator } from '../../../api/authenticator.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { startApi } from '../../helpers/api.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { testConfig, waitFor } from '../../helpers/env.js';
import { obliterateQueues, queueIdle } from '../../helpers/queues.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let auditQueue: Queue;
const system = { type: 'system' as const, id: 'test' };

test.before(async () => {
  db = await createTestDatabase();
  bulwark = await startBulwark(testConfig(db.url), { http: false, scheduler: false });
  producer = createProducer({ queuePrefix: bulwark.ctx.config.queuePrefix });
  auditQueue = new Queue(AUDIT_WRITE_QUEUE, { connection: bulwark.ctx.redis, prefix: bulwark.ctx.config.queuePrefix });
});
test.after(async () => {
  await auditQueue.close();
  await producer.close();
  await bulwark.stop();
  await obliterateQueues(bulwark.ctx.config.queuePrefix);
  await db.drop();
});

interface UseRow {
  event_id: string;
  occurred_at: Date;
  actor_id: string;
  resource_id: string;
  metadata: { name: string; display_prefix: string; hour: string };
}
const usesOf = async (keyId: string) =>
  (
    await superuserQuery(
      db.url,
      `SELECT event_id, occurred_at, actor_id, resource_id, metadata FROM audit_entries WHERE action = 'apikey:used' AND resource_id = $1 ORDER BY occurred_at`,
      [keyId],
    )
  ).rows as UseRow[];
const lastUsedOf = async (keyId: string) =>
  (await superuserQuery(db.url, 'SELECT last_used_at FROM api_keys WHERE id = $1', [keyId])).rows[0]
    ?.last_used_at as Date | null;
/** Every audit-write job finished: what was enqueued is stored (or was a duplicate). */
const auditSettled = () => queueIdle(auditQueue);

async function keyFor(name: string) {
  const t = await createTenant(bulwark.ctx.prisma, { name });
  const { key, record } = await createApiKey(
    bulwark.ctx.prisma,
    { tenantId: t.id, name: 'svc', scopes: ['audit:write'] },
    system,
  );
  const row = (
    await superuserQuery(db.url, 'SELECT id FROM api_keys WHERE display_prefix = $1', [record.displayPrefix])
  ).rows[0] as { id: string };
  return { key, keyId: row.id, displayPrefix: record.displayPrefix, tenantId: t.id };
}

test('one entry per hour of use, across many requests, a flush spanning two hours, and two API processes', async () => {
  const k = await keyFor('key-use-hours');
  let now = new Date('2026-11-27T10:59:59.200Z');
  const clock = () => now;
  const a = createAuthenticator(bulwark.ctx.prisma, { cacheMs: 0, clock, writeAudit: (e) => producer.audit.write(e) });
  const b = createAuthenticator(bulwark.ctx.prisma, { cacheMs: 0, clock, writeAudit: (e) => producer.audit.write(e) });
  try {
    for (let i = 0; i < 5; i++) assert.ok((await a.authenticate(k.key)).ok);
    now = new Date('2026-11-27T11:00:00.300Z');
    assert.ok((await a.authenticate(k.key)).ok);
    now = new Date('2026-11-27T11:00:02.000Z');
    assert.ok((await a.authenticate(k.key)).ok);
    await a.flushLastUsed();
    // Another process using the key later in an hour already audited adds nothing.
    now = new Date('2026-11-27T11:40:00.000Z');
    assert.ok((await b.authenticate(k.key)).ok);
    await b.flushLastUsed();
    await auditSettled();
    const uses = await usesOf(k.keyId);
    assert.equal(
      uses.map((u) => [u.event_id, u.occurred_at.toISOString()]),
      [
        [`apikey-used:${k.keyId}:2026112710`, '2026-11-27T10:59:59.200Z'],
        [`apikey-used:${k.keyId}:2026112711`, '2026-11-27T11:00:00.300Z'],
      ],
    );
    assert.is(uses[0]!.actor_id, k.displayPrefix);
    assert.equal(uses[0]!.metadata, { name: 'svc', display_prefix: k.displayPrefix, hour: '2026-11-27T10:00:00.000Z' });
    assert.is((await lastUsedOf(k.keyId))?.toISOString(), '2026-11-27T11:40:00.000Z');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a flush whose audit write fails keeps the uses: the next one writes them, once', async () => {
  const k = await keyFor('key-use-retry');
  const now = new Date('2026-11-27T12:10:00.000Z');
  let failNext = true;
  const writeAudit = async (e: AuditEntryInput) => {
    if (failNext) {
      failNext = false;
      throw new Error('queue unreachable');
    }
    return producer.audit.write(e);
  };
  const auth = createAuthenticator(bulwark.ctx.prisma, { cacheMs: 0, clock: () => now, writeAudit });
  try {
    assert.ok((await auth.authenticate(k.key)).ok);
    await auth.flushLastUsed().then(
      () => assert.unreachable('the failed write should reject the flush'),
      (err: Error) => assert.match(err.message, 'queue unreachable'),
    );
    assert.is(await lastUsedOf(k.keyId), null, 'last-used time not moved past an unaudited hour');
    await auth.flushLastUsed();
    await auditSettled();
    assert.equal(
      (await usesOf(k.keyId)).map((u) => u.occurred_at.toISOString()),
      ['2026-11-27T12:10:00.000Z'],
    );
    assert.is((await lastUsedOf(k.keyId))?.toISOString(), '2026-11-27T12:10:00.000Z');
  } finally {
    await auth.close();
  }
});

test('a request through the HTTP API is audited as key use by the timed flush', async () => {
  const api = await startApi();
  try {
    const t = await api.tenant('key-use-http');
    const res = await api.call('GET', '/v1/audit?limit=1', { key: t.adminKey });
    assert.is(res.status, 200);
    const prefix = t.adminKey.slice(0, 12);
    const row = await waitFor(
      async () =>
        (
          await superuserQuery(
            api.db.url,
            `SELECT actor_id, resource_id FROM audit_entries WHERE action = 'apikey:used' AND tenant_id = $1`,
            [t.id],
          )
        ).rows[0] as { actor_id: string } | undefined,
      'an apikey:used entry (flushed every 5 s)',
      20_000,
      200,
    );
    assert.is(row.actor_id, prefix);
    assert.not.ok(api.logs.text().includes(t.adminKey), 'the key itself never appears in logs');
  } finally {
    await api.close();
  }
});

test.run();
