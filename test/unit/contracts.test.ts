// The audit and alert contracts refuse what Postgres could never store or what breaks
// the rules between fields, naming each bad field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { alertInputSchema } from '../../lib/contracts/alert.js';
import { auditEntryInputSchema, auditWriteJobSchema } from '../../lib/contracts/audit.js';

const base = {
  tenantId: '6f1c2a4e-0000-4000-8000-000000000001',
  actorType: 'user',
  action: 'task:completed',
  resourceType: 'task',
};
const paths = (
  input: unknown,
  schema: {
    safeParse: (v: unknown) => { success: boolean; error?: { issues: Array<{ path: PropertyKey[] }> } };
  } = auditEntryInputSchema,
) => {
  const r = schema.safeParse(input);
  return r.success ? [] : [...new Set(r.error!.issues.map((i) => i.path.map(String).join('.')))].sort();
};

test('a minimal entry is valid and the tenant id is normalised to lower case', () => {
  const r = auditEntryInputSchema.safeParse({ ...base, tenantId: base.tenantId.toUpperCase() });
  assert.ok(r.success);
  assert.is(r.success && r.data.tenantId, base.tenantId);
});

test('every field rule names its field', () => {
  assert.equal(paths({ ...base, tenantId: 'x' }), ['tenantId']);
  assert.equal(paths({ ...base, actorType: 'robot' }), ['actorType']);
  assert.equal(paths({ ...base, action: 'Completed' }), ['action']);
  assert.equal(paths({ ...base, resourceType: '' }), ['resourceType']);
  assert.equal(paths({ ...base, actorType: 'ai' }), ['confidence', 'reason']);
  assert.equal(paths({ ...base, actorType: 'ai', reason: 'r', confidence: 1.5 }), ['confidence']);
  assert.equal(paths({ ...base, action: 'security:login' }), ['severity']);
  assert.equal(paths({ ...base, severity: 'huge' }), ['severity']);
  assert.equal(paths({ ...base, ip: '999.1.1.1' }), ['ip']);
  assert.equal(paths({ ...base, eventId: 'has space' }), ['eventId']);
  assert.equal(paths({ ...base, occurredAt: '2026-01-01T00:00:00' }), ['occurredAt']);
  assert.equal(paths({ ...base, colour: 'red' }), ['']);
  assert.equal(paths({ ...base, reason: 'nul\u0000byte' }), ['reason']);
});

test('before, after and metadata must be storable JSON objects within their size', () => {
  assert.equal(paths({ ...base, before: { a: 'ok', nested: [1, { b: null }] } }), []);
  assert.equal(paths({ ...base, before: { bad: 'x\u0000y' } }), ['before']);
  assert.equal(paths({ ...base, after: { ['\ud800']: 1 } }), ['after']);
  assert.equal(paths({ ...base, after: { when: new Date() } }), ['after']);
  assert.equal(paths({ ...base, after: [1, 2] }), ['after']);
  assert.equal(paths({ ...base, metadata: { n: Number.NaN } }), ['metadata']);
  assert.equal(paths({ ...base, before: { big: 'x'.repeat(70_000) } }), ['before']);
  assert.equal(
    paths({ ...base, before: { big: '\u001f'.repeat(11_000) } }),
    ['before'],
    'escapes count towards the size',
  );
  let deep: Record<string, unknown> = {};
  const root = deep;
  for (let i = 0; i < 40; i++) deep = (deep.d = {}) as Record<string, unknown>;
  assert.equal(paths({ ...base, metadata: root }), ['metadata']);
});

test('a job carries 1 to 1000 entries with a version', () => {
  const entry = { ...base, eventId: 'e-1', occurredAt: '2026-01-01T00:00:00Z' };
  assert.ok(auditWriteJobSchema.safeParse({ v: 1, entries: [entry] }).success);
  assert.not.ok(auditWriteJobSchema.safeParse({ v: 2, entries: [entry] }).success);
  assert.not.ok(auditWriteJobSchema.safeParse({ v: 1, entries: [] }).success);
  assert.not.ok(auditWriteJobSchema.safeParse({ v: 1, entries: Array.from({ length: 1001 }, () => entry) }).success);
});

test('alerts: required fields, severity, runbook URL', () => {
  const a = { tenantId: base.tenantId, type: 'disk.full', severity: 'warning', title: 'Disk' };
  assert.equal(paths(a, alertInputSchema), []);
  assert.equal(paths({ ...a, severity: 'low', title: '', runbookUrl: 'ftp://x' }, alertInputSchema), [
    'runbookUrl',
    'severity',
    'title',
  ]);
});

test('alerts: at most 64 labels', () => {
  const a = { tenantId: base.tenantId, type: 'disk.full', severity: 'warning', title: 'Disk' };
  const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']));
  assert.equal(paths({ ...a, labels: labels(64) }, alertInputSchema), []);
  const r = alertInputSchema.safeParse({ ...a, labels: labels(65) });
  assert.not.ok(r.success);
  assert.equal(
    r.error!.issues.map((i) => [i.path.join('.'), i.message]),
    [['labels', 'has 65 labels, more than 64']],
  );
});

test('cross-field rules are reported together with field errors', () => {
  assert.equal(paths({ ...base, tenantId: 'x', actorType: 'ai', action: 'security:login' }), [
    'confidence',
    'reason',
    'severity',
    'tenantId',
  ]);
  assert.equal(paths({ ...base, actorType: 'ai', reason: 42, confidence: 0.5 }), ['reason']);
  assert.equal(paths(null), ['']);
});

test.run();
