// docs/jobs/audit-write.md is the normative description of the chain: an auditor
// re-implements verification from it. Its worked example (§5) must therefore be what
// the code computes: the two inputs go through the write path the worker uses (the job
// schema, prepareEntry, encodeEntry, joinCanonical, hashCanonical), and the canonical
// JSON and hashes printed in the doc must come out, byte for byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { GENESIS_HASH, hashCanonical, joinCanonical } from '../../lib/audit/chain.js';
import { encodeEntry } from '../../lib/audit/encode.js';
import { prepareEntry } from '../../lib/audit/entry.js';
import { auditEntrySchema } from '../../lib/contracts/audit.js';

const doc = readFileSync(new URL('../../docs/jobs/audit-write.md', import.meta.url), 'utf8');
const start = doc.indexOf('### 5. Worked example');
const example = doc.slice(start, doc.indexOf('\n## ', start));

/** The code blocks of the example that hold one canonical JSON line each, in order. */
const canonicalBlocks = [...example.matchAll(/```\n(\{"action".*\})\n```/g)].map((m) => m[1]!);
const hashes = Object.fromEntries(
  [...example.matchAll(/^hash\((\d)\) = ([0-9a-f]{64})$/gm)].map((m) => [m[1]!, m[2]!]),
);

const TENANT = '0b5e3c1a-7d2f-4c8e-9a61-3f2d4e5a6b7c';
// The inputs exactly as the doc shows them (passed to audit.write).
const ENTRY_1 = {
  tenantId: TENANT,
  eventId: 'evt-2026-0001',
  occurredAt: '2026-01-15T09:30:00Z',
  actorType: 'ai',
  actorId: 'triage-bot',
  action: 'ticket:reassigned',
  resourceType: 'ticket',
  resourceId: 'T-42',
  before: { assignee: 'alice', priority: 2 },
  after: { assignee: 'bob', priority: 1, apiKey: 'sk-live-123' },
  reason: 'Bob owns the billing queue',
  confidence: 0.95,
  requestId: 'req-7f3a',
};
const ENTRY_2 = {
  tenantId: TENANT,
  eventId: 'evt-2026-0002',
  occurredAt: '2026-01-15T10:31:00.500+01:00',
  actorType: 'user',
  actorId: 'u-17',
  action: 'security:auth-failed',
  resourceType: 'session',
  ip: '203.0.113.9',
  severity: 'high',
  metadata: { attempts: 3, ümlaut: 'ja', Zeta: true, alpha: null },
};

/** The canonical text the worker hashes for `input` committed at `recordedAt` as `seq`. */
function canonicalOf(input: unknown, recordedAt: string, seq: string): string {
  const encoded = encodeEntry(prepareEntry(auditEntrySchema.parse(input)), { format: 1 });
  return joinCanonical(encoded.canonical, recordedAt, seq);
}

test('the doc shows two canonical lines and two hashes', () => {
  assert.ok(start >= 0, 'audit-write.md has its worked example');
  assert.is(canonicalBlocks.length, 2, 'two canonical JSON blocks');
  assert.equal(Object.keys(hashes).sort(), ['1', '2']);
});

test('entry 1: the canonical JSON and hash(1) in the doc are what the write path computes', () => {
  const canonical = canonicalOf(ENTRY_1, '2026-01-15T09:30:00.125Z', '1');
  assert.is(canonical, canonicalBlocks[0]);
  assert.is(hashCanonical(canonical, GENESIS_HASH), hashes['1']);
});

test('entry 2: the canonical JSON and hash(2) in the doc are what the write path computes', () => {
  const canonical = canonicalOf(ENTRY_2, '2026-01-15T09:31:01.002Z', '2');
  assert.is(canonical, canonicalBlocks[1]);
  assert.is(hashCanonical(canonical, hashes['1']!), hashes['2']);
});

test.run();
