// Format 2 (docs/jobs/audit-write.md § 1a): the canonical form is the generic RFC 8785
// serialisation of the 21-member object, the digest covers the nine personal members
// and the salt, and the split leaves the personal fields out of what audit_log holds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { canonicalEntry, canonicalJson, canonicalJsonFields, type ChainEntry } from '../../lib/audit/chain.js';
import { canonicalPersonal, personalDigest, splitPersonal } from '../../lib/audit/personal.js';
import { personalFieldsFor } from '../../lib/privacy/fields.js';

const PREPARED = {
  tenantId: '6f1c2a4e-1b2c-4d3e-8f40-123456789abc',
  eventId: 'evt-1',
  occurredAt: '2026-12-08T10:00:00.000Z',
  actorType: 'user',
  actorId: 'alice@example.com',
  action: 'task:updated',
  resourceType: 'task',
  resourceId: 't-1',
  before: { s: 'open' },
  after: { s: 'done', who: 'alice@example.com' },
  metadata: null,
  reason: 'because "alice" asked',
  confidence: null,
  requestId: 'req-1',
  ip: '10.0.0.1',
  userAgent: 'Firefox',
  severity: null,
};

test('the split: personal fields out, digest over the nine members and the salt', () => {
  const salt = '00112233445566778899aabbccddeeff';
  const { entry, personal } = splitPersonal(PREPARED, canonicalJsonFields(PREPARED), personalFieldsFor(), salt);
  assert.equal(
    [entry.actorId, entry.ip, entry.userAgent, entry.before, entry.after, entry.metadata],
    [null, null, null, null, null, null],
  );
  assert.is(entry.reason, PREPARED.reason, 'not personal for this tenant');
  const object = {
    actor_id: 'alice@example.com',
    after_state: PREPARED.after,
    before_state: PREPARED.before,
    ip: '10.0.0.1',
    metadata: null,
    reason: null,
    request_id: null,
    resource_id: null,
    user_agent: 'Firefox',
  };
  assert.is(canonicalPersonal(personal!.values), canonicalJson(object));
  const expected = createHash('sha256').update(canonicalJson(object)).update(salt).digest('hex');
  assert.is(personal!.digest, expected);
  assert.is(personalDigest(personal!.values, salt), expected);
  assert.is(entry.pdDigest, expected);
  const withReason = splitPersonal(
    PREPARED,
    canonicalJsonFields(PREPARED),
    personalFieldsFor({ privacy: { personalFields: ['reason'] } }),
    salt,
  );
  assert.is(withReason.entry.reason, null);
  assert.is(withReason.personal!.values[5], PREPARED.reason);
});

test('the canonical form of format 2 is RFC 8785 of the 21-member object with v 2', () => {
  const { entry } = splitPersonal(PREPARED, canonicalJsonFields(PREPARED), personalFieldsFor(), 'ab'.repeat(16));
  const e: ChainEntry = { ...entry, seq: '7', recordedAt: '2026-12-08T10:00:01.000Z' };
  const reference = canonicalJson({
    v: 2,
    tenant_id: e.tenantId,
    seq: '7',
    event_id: e.eventId,
    occurred_at: e.occurredAt,
    recorded_at: e.recordedAt,
    actor_type: e.actorType,
    actor_id: null,
    action: e.action,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    before_state: null,
    after_state: null,
    metadata: null,
    reason: e.reason,
    confidence: null,
    request_id: e.requestId,
    ip: null,
    user_agent: null,
    severity: null,
    pd_digest: e.pdDigest,
  });
  assert.is(canonicalEntry(e), reference);
});

test('an entry without personal data has no row and a null digest', () => {
  const bare = { ...PREPARED, actorId: null, ip: null, userAgent: null, before: null, after: null, metadata: null };
  const { entry, personal } = splitPersonal(bare, canonicalJsonFields(bare), personalFieldsFor());
  assert.is(personal, undefined);
  assert.is(entry.pdDigest, null);
  assert.is(entry.format, 2);
});

test.run();
