// The migrated database matches schema.prisma: every model is created, read and
// updated through the generated client (audit_log refuses updates by design).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
let prisma: PrismaClient;

test.before(async () => {
  db = await createTestDatabase();
  prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
});

test.after(async () => {
  await prisma.$disconnect();
  await db.drop();
});

test('Tenant, TenantSettings and AuditChainHead: create, read, update', async () => {
  const t = await prisma.tenant.create({
    data: {
      name: 'schema-check',
      timezone: 'Europe/Berlin',
      settings: { create: { settings: { a: 1 } } },
      chainHead: { create: {} },
    },
    include: { settings: true, chainHead: true },
  });
  assert.is(t.timezone, 'Europe/Berlin');
  assert.equal(t.settings?.settings, { a: 1 });
  assert.is(t.chainHead?.lastSeq, 0n);
  assert.is(t.chainHead?.lastHash, '0'.repeat(64));
  const renamed = await prisma.tenant.update({ where: { id: t.id }, data: { name: 'schema-check-2' } });
  assert.is(renamed.name, 'schema-check-2');
  assert.ok(renamed.updatedAt.getTime() >= t.updatedAt.getTime());
  await prisma.tenantSettings.update({ where: { tenantId: t.id }, data: { settings: { a: 2 } } });
  await prisma.auditChainHead.update({ where: { tenantId: t.id }, data: { lastSeq: 5n, lastHash: 'f'.repeat(64) } });
  const read = await prisma.tenant.findUniqueOrThrow({
    where: { id: t.id },
    include: { settings: true, chainHead: true },
  });
  assert.equal(read.settings?.settings, { a: 2 });
  assert.is(read.chainHead?.lastSeq, 5n);
});

test('AuditLog: every column round-trips through the client; update is refused', async () => {
  const t = await prisma.tenant.create({ data: { name: 'schema-log' } });
  const data = {
    tenantId: t.id,
    seq: 1n,
    eventId: 'evt-1',
    occurredAt: new Date('2026-03-29T01:30:00.123Z'),
    recordedAt: new Date('2026-03-29T01:30:01.000Z'),
    actorType: 'ai',
    actorId: 'model-7',
    action: 'rule:changed',
    resourceType: 'rule',
    resourceId: 'r-1',
    beforeState: { x: 1 },
    afterState: { x: 2 },
    metadata: { source: 'test' },
    reason: 'drift detected',
    confidence: '0.9500',
    requestId: 'req-1',
    ip: '2001:db8::1',
    userAgent: 'test/1.0',
    severity: 'high',
    prevHash: '0'.repeat(64),
    hash: 'a'.repeat(64),
    format: 2,
    pdDigest: 'b'.repeat(64),
  };
  const row = await prisma.auditLog.create({ data });
  const read = await prisma.auditLog.findUniqueOrThrow({
    where: { tenantId_eventId: { tenantId: t.id, eventId: 'evt-1' } },
  });
  // Plain values for comparison: Dates as ISO strings, the Decimal at its 4 places.
  const plain = (r: typeof read) => ({
    ...r,
    occurredAt: r.occurredAt.toISOString(),
    recordedAt: r.recordedAt.toISOString(),
    confidence: r.confidence?.toFixed(4),
  });
  // Every column read back, the generated id included (so a new column fails here until it is compared).
  assert.equal(plain(read), {
    ...data,
    id: row.id,
    occurredAt: '2026-03-29T01:30:00.123Z',
    recordedAt: '2026-03-29T01:30:01.000Z',
  });
  assert.equal(plain(row), plain(read));
  // A null round-trips as null, not as JSON null or an empty string.
  const nulls = await prisma.auditLog.create({
    data: {
      ...data,
      seq: 2n,
      eventId: 'evt-2',
      actorId: null,
      resourceId: null,
      reason: null,
      confidence: null,
      requestId: null,
      ip: null,
      userAgent: null,
      severity: null,
      pdDigest: null,
    },
  });
  const nullsRead = await prisma.auditLog.findUniqueOrThrow({ where: { id: nulls.id } });
  for (const col of [
    'actorId',
    'resourceId',
    'reason',
    'confidence',
    'requestId',
    'ip',
    'userAgent',
    'severity',
    'pdDigest',
  ] as const)
    assert.is(nullsRead[col], null, col);
  try {
    await prisma.auditLog.update({ where: { id: row.id }, data: { reason: 'rewritten' } });
    assert.unreachable('update should be refused');
  } catch (err) {
    assert.match(String((err as Error).message), /append-only/);
  }
});

test('RestoreDrill: every column round-trips through the client; create, read, update', async () => {
  const data = {
    backupId: '20261206T010000Z',
    startedAt: new Date('2026-12-06T03:00:00.123Z'),
    finishedAt: new Date('2026-12-06T03:04:00.456Z'),
    durationMs: 231000,
    backupAgeSeconds: 7200,
    checks: [{ name: 'restore', ok: true, ms: 231000 }],
    passed: true,
    error: null,
    trigger: 'schedule',
  };
  const row = await prisma.restoreDrill.create({ data });
  const read = await prisma.restoreDrill.findUniqueOrThrow({ where: { id: row.id } });
  assert.equal(read, { ...data, id: row.id });
  const updated = await prisma.restoreDrill.update({
    where: { id: row.id },
    data: {
      passed: false,
      error: 'smoke-query: no system tenant',
      backupId: null,
      durationMs: null,
      backupAgeSeconds: null,
    },
  });
  assert.is(updated.error, 'smoke-query: no system tenant');
  assert.is(updated.backupId, null);
  // The trigger is one of two words, and a drill cannot end before it started.
  for (const bad of [{ trigger: 'cron' }, { finishedAt: new Date('2026-12-06T02:59:59Z') }]) {
    try {
      await prisma.restoreDrill.create({ data: { ...data, ...bad } });
      assert.unreachable('should be refused');
    } catch (err) {
      assert.match(String((err as Error).message), /restore_drills_(trigger|finished)_check|constraint/i);
    }
  }
});

test('LegalHold and RetentionReceipt: create, read, update; AuditChainGap: read, written only by audit_purge()', async () => {
  const t = await prisma.tenant.create({ data: { name: 'schema-retention' } });
  const hold = await prisma.legalHold.create({
    data: {
      tenantId: t.id,
      scope: 'resource',
      resourceType: 'invoice',
      resourceId: '42',
      reason: 'audit',
      createdBy: 'user:x',
      until: new Date('2030-01-01T00:00:00.000Z'),
    },
  });
  const released = await prisma.legalHold.update({
    where: { id: hold.id },
    data: { releasedAt: new Date(), releasedBy: 'user:y', releaseReason: 'done' },
  });
  assert.is(released.resourceId, '42');
  assert.is((await prisma.legalHold.findUniqueOrThrow({ where: { id: hold.id } })).releaseReason, 'done');
  const r = await prisma.retentionReceipt.create({
    data: {
      runId: 'r',
      tenantId: t.id,
      class: 'audit',
      status: 'running',
      ttlDays: 90,
      cutoff: new Date(),
      policy: { a: 1 },
      pending: [{ key: 'k' }],
    },
  });
  assert.is(r.digest, '0'.repeat(64));
  assert.is(r.deleted, 0n);
  const done = await prisma.retentionReceipt.update({
    where: { id: r.id },
    data: { status: 'done', deleted: 5n, firstSeq: 1n, lastSeq: 5n, holds: [{ id: hold.id, kept: 1 }] },
  });
  assert.is(done.lastSeq, 5n);
  assert.equal(await prisma.auditChainGap.findMany({ where: { tenantId: t.id } }), []);
  try {
    await prisma.auditChainGap.create({
      data: {
        tenantId: t.id,
        firstSeq: 1n,
        lastSeq: 1n,
        prevHash: '0'.repeat(64),
        lastHash: 'a'.repeat(64),
        entries: 1,
        receiptId: r.id,
      },
    });
    assert.unreachable('a gap row written outside audit_purge()');
  } catch (err) {
    assert.match(String((err as Error).message), /written only by audit_purge/);
  }
});

test('AuditPersonalData, AuditErasure, SubjectErasure: round-trip; personal data and erasure records refuse changes', async () => {
  const t = await prisma.tenant.create({ data: { name: 'schema-privacy' } });
  const pd = {
    tenantId: t.id,
    seq: 99n,
    salt: 'c'.repeat(32),
    actorId: 'a-1',
    ip: '10.0.0.1',
    userAgent: 'ua',
    beforeState: { a: 1 },
    afterState: { b: [1, 'x'] },
    metadata: { m: null },
    resourceId: 'r-1',
    reason: 'why',
    requestId: 'req',
  };
  await prisma.auditPersonalData.create({ data: pd });
  assert.equal(
    await prisma.auditPersonalData.findUniqueOrThrow({ where: { tenantId_seq: { tenantId: t.id, seq: 99n } } }),
    pd,
  );
  for (const change of [
    () =>
      prisma.auditPersonalData.update({ where: { tenantId_seq: { tenantId: t.id, seq: 99n } }, data: { ip: null } }),
    () => prisma.auditPersonalData.delete({ where: { tenantId_seq: { tenantId: t.id, seq: 99n } } }),
    () =>
      prisma.auditErasure.create({
        data: {
          tenantId: t.id,
          seq: 99n,
          erasureId: t.id,
          format: 2,
          hash: 'a'.repeat(64),
          erasedAt: new Date(),
          keyId: 'k',
          signature: 's',
        },
      }),
  ]) {
    try {
      await change();
      assert.unreachable('should be refused');
    } catch (err) {
      assert.match(String((err as Error).message), /insert-only|written only by audit_erase_personal/);
    }
  }
  assert.equal(await prisma.auditErasure.findMany({ where: { tenantId: t.id } }), []);
  const run = await prisma.subjectErasure.create({
    data: { tenantId: t.id, subjectKey: 'd'.repeat(64), reason: 'r', status: 'running', requestedBy: 'user:x' },
  });
  const done = await prisma.subjectErasure.update({
    where: { id: run.id },
    data: { status: 'done', counts: { format2: 1 }, finishedAt: new Date() },
  });
  assert.equal((await prisma.subjectErasure.findUniqueOrThrow({ where: { id: run.id } })).counts, done.counts);
});

test.run();
