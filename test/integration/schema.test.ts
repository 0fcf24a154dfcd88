// The migrated database matches schema.prisma: every model is created, read and
// updated through the generated client (audit_log refuses updates by design).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../lib/clients/prisma.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

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
    data: { name: 'schema-check', timezone: 'Europe/Berlin', settings: { create: { settings: { a: 1 } } }, chainHead: { create: {} } },
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
  const read = await prisma.tenant.findUniqueOrThrow({ where: { id: t.id }, include: { settings: true, chainHead: true } });
  assert.equal(read.settings?.settings, { a: 2 });
  assert.is(read.chainHead?.lastSeq, 5n);
});

test('AuditLog: every column round-trips through the client; update is refused', async () => {
  const t = await prisma.tenant.create({ data: { name: 'schema-log' } });
  const occurredAt = new Date('2026-03-29T01:30:00.123Z');
  const row = await prisma.auditLog.create({
    data: {
      tenantId: t.id,
      seq: 1n,
      eventId: 'evt-1',
      occurredAt,
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
      severity: null,
      prevHash: '0'.repeat(64),
      hash: 'a'.repeat(64),
    },
  });
  const read = await prisma.auditLog.findUniqueOrThrow({ where: { tenantId_eventId: { tenantId: t.id, eventId: 'evt-1' } } });
  assert.is(read.id, row.id);
  assert.is(read.occurredAt.toISOString(), occurredAt.toISOString());
  assert.is(read.confidence?.toFixed(4), '0.9500');
  assert.equal(read.afterState, { x: 2 });
  assert.is(read.ip, '2001:db8::1');
  try {
    await prisma.auditLog.update({ where: { id: row.id }, data: { reason: 'rewritten' } });
    assert.unreachable('update should be refused');
  } catch (err) {
    assert.match(String((err as Error).message), /append-only/);
  }
});

test.run();
