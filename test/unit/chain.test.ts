// The hash chain's canonical form (RFC 8785 as docs/jobs/audit-write.md defines it)
// and chainHash: deterministic, sensitive to every field and to the previous hash,
// and pinned by a known-answer vector recomputed here from a hand-written string.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import {
  CHAIN_FORMAT_VERSION,
  canonicalEntry,
  canonicalJson,
  chainHash,
  GENESIS_HASH,
  type ChainEntry,
} from '../../lib/audit/chain.js';

test('object keys are sorted by UTF-16 code units, at every depth', () => {
  // RFC 8785 §3.2.3 example: U+1F600 (a surrogate pair, D83D DE00) sorts before
  // U+FB33, although its code point is larger.
  const keys = ['\u20ac', '\r', '\ufb33', '1', '\ud83d\ude00', '\u0080', '\u00f6'];
  const obj = Object.fromEntries(keys.map((k, i) => [k, i]));
  const expectedOrder = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
  assert.is(canonicalJson(obj), `{${expectedOrder.map((k) => `${JSON.stringify(k)}:${keys.indexOf(k)}`).join(',')}}`);
  // Digits sort as text, upper case before lower case, no locale rules.
  assert.is(
    canonicalJson({ b: 1, a: 2, B: 3, '10': 4, '9': 5, é: 6, ﬁ: 7, '😀': 8 }),
    '{"10":4,"9":5,"B":3,"a":2,"b":1,"é":6,"😀":8,"ﬁ":7}',
  );
  assert.is(
    canonicalJson({ z: { y: { b: 1, a: [{ d: 1, c: 2 }] } }, a: null }),
    '{"a":null,"z":{"y":{"a":[{"c":2,"d":1}],"b":1}}}',
  );
});

test('arrays keep their order; no whitespace; literals as such', () => {
  assert.is(canonicalJson([3, 1, 2, [true, false, null], {}, []]), '[3,1,2,[true,false,null],{},[]]');
  assert.is(canonicalJson({ a: [{ b: 2, a: 1 }, 'x'] }), '{"a":[{"a":1,"b":2},"x"]}');
  assert.is(canonicalJson(true), 'true');
  assert.is(canonicalJson(null), 'null');
});

test('numbers are written in the ECMAScript Number-to-String form', () => {
  const cases: Array<[number, string]> = [
    [1, '1'],
    [1.5, '1.5'],
    [-2.25, '-2.25'],
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [12345678901234567000, '12345678901234567000'],
    [1e-7, '1e-7'],
    [0.000001, '0.000001'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-0, '0'],
    [0, '0'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [5e-324, '5e-324'],
  ];
  for (const [n, text] of cases) assert.is(canonicalJson({ n }), `{"n":${text}}`, String(n));
});

test('strings: JSON.stringify escapes only, non-ASCII written as itself', () => {
  assert.is(canonicalJson('é ☃ 😀 中文 / \u2028\u2029'), '"é ☃ 😀 中文 / \u2028\u2029"');
  assert.is(canonicalJson('"\\\b\t\n\f\r'), '"\\"\\\\\\b\\t\\n\\f\\r"');
  assert.is(canonicalJson('\u0000\u001f\u007f'), '"\\u0000\\u001f\u007f"');
  assert.is(canonicalJson({ ключ: 'значение' }), '{"ключ":"значение"}');
});

test('undefined members are dropped; non-finite numbers and non-JSON values are refused', () => {
  assert.is(canonicalJson({ a: undefined, b: 1, c: { d: undefined } }), '{"b":1,"c":{}}');
  for (const bad of [NaN, Infinity, -Infinity]) {
    assert.throws(() => canonicalJson(bad), /non-finite/);
    assert.throws(() => canonicalJson({ deep: [{ x: bad }] }), /non-finite/);
  }
  assert.throws(() => canonicalJson(10n), TypeError);
  assert.throws(() => canonicalJson({ f: () => 1 }), TypeError);
});

const ENTRY: ChainEntry = {
  tenantId: '6f1c2a4e-1b2c-4d3e-8f40-123456789abc',
  seq: '1',
  eventId: 'evt-0001',
  occurredAt: '2026-01-15T09:30:00.000Z',
  recordedAt: '2026-01-15T09:30:00.125Z',
  actorType: 'ai',
  actorId: 'model-7',
  action: 'task:completed',
  resourceType: 'task',
  resourceId: 't-42',
  before: { status: 'open', é: 1, tags: ['b', 'a'] },
  after: { status: 'done', n: 1.5, big: 1e21, z: -0, 'ü😀': '☃\n"' },
  metadata: null,
  reason: 'routine',
  confidence: '0.9500',
  requestId: 'req-1',
  ip: '10.0.0.1',
  userAgent: null,
  severity: null,
};

// Written by hand from the doc's table and rules (not produced by the code under test).
const CANONICAL =
  '{"action":"task:completed","actor_id":"model-7","actor_type":"ai",' +
  '"after_state":{"big":1e+21,"n":1.5,"status":"done","z":0,"ü😀":"☃\\n\\""},' +
  '"before_state":{"status":"open","tags":["b","a"],"é":1},' +
  '"confidence":"0.9500","event_id":"evt-0001","ip":"10.0.0.1","metadata":null,' +
  '"occurred_at":"2026-01-15T09:30:00.000Z","reason":"routine","recorded_at":"2026-01-15T09:30:00.125Z",' +
  '"request_id":"req-1","resource_id":"t-42","resource_type":"task","seq":"1","severity":null,' +
  '"tenant_id":"6f1c2a4e-1b2c-4d3e-8f40-123456789abc","user_agent":null,"v":1}';
const EXPECTED_HASH_1 = 'daebdd90b5ea0cc75002959d957be436a3c5009267eb15874e39d72f080492a5';
const EXPECTED_HASH_2 = 'fed6f957e7d3d0cfa83faa8f93311c242afaa77029339caa87f12a404478520d';

const sha256Hex = (text: string, prev: string) =>
  createHash('sha256').update(Buffer.from(text, 'utf8')).update(Buffer.from(prev, 'ascii')).digest('hex');

test('known-answer vector: canonical text, hash of the first link and of the next one', () => {
  assert.is(GENESIS_HASH, '0'.repeat(64));
  assert.is(canonicalEntry(ENTRY), CANONICAL);
  // Independent recomputation from the hand-written string with node:crypto.
  assert.is(sha256Hex(CANONICAL, GENESIS_HASH), EXPECTED_HASH_1);
  assert.is(chainHash(ENTRY, GENESIS_HASH), EXPECTED_HASH_1);
  const second = { ...ENTRY, seq: '2' };
  assert.is(sha256Hex(CANONICAL.replace('"seq":"1"', '"seq":"2"'), EXPECTED_HASH_1), EXPECTED_HASH_2);
  assert.is(chainHash(second, EXPECTED_HASH_1), EXPECTED_HASH_2);
});

test('the canonical form does not depend on key order of the input', () => {
  const reordered = Object.fromEntries(Object.entries(ENTRY).reverse()) as unknown as ChainEntry;
  reordered.after = { 'ü😀': '☃\n"', z: 0, big: 1e21, n: 1.5, status: 'done' };
  assert.is(canonicalEntry(reordered), CANONICAL);
  assert.is(chainHash(reordered, GENESIS_HASH), EXPECTED_HASH_1);
});

test('chainHash is deterministic and changes with every field and with prevHash', () => {
  const base = chainHash(ENTRY, GENESIS_HASH);
  assert.is(chainHash(structuredClone(ENTRY), GENESIS_HASH), base);
  const changed: Record<Exclude<keyof ChainEntry, 'format' | 'pdDigest'>, unknown> = {
    tenantId: '6f1c2a4e-1b2c-4d3e-8f40-123456789abd',
    seq: '10',
    eventId: 'evt-0002',
    occurredAt: '2026-01-15T09:30:00.001Z',
    recordedAt: '2026-01-15T09:30:00.126Z',
    actorType: 'user',
    actorId: null,
    action: 'task:created',
    resourceType: 'tasks',
    resourceId: 't-43',
    before: { ...ENTRY.before, tags: ['a', 'b'] },
    after: { ...ENTRY.after, n: 1.25 },
    metadata: {},
    reason: 'Routine',
    confidence: '0.9501',
    requestId: null,
    ip: '10.0.0.2',
    userAgent: '',
    severity: 'low',
  };
  const seen = new Set([base]);
  for (const [field, value] of Object.entries(changed)) {
    const h = chainHash({ ...ENTRY, [field]: value } as ChainEntry, GENESIS_HASH);
    assert.is.not(h, base, `hash ignores ${field}`);
    seen.add(h);
  }
  assert.is(seen.size, Object.keys(changed).length + 1, 'every change gives its own hash');
  assert.is(Object.keys(changed).length, Object.keys(ENTRY).length, 'every ChainEntry field is covered');
  assert.is.not(chainHash(ENTRY, 'f'.repeat(64)), base);
  assert.is.not(chainHash(ENTRY, `${'0'.repeat(63)}1`), base);
});

/** The canonical entry as the generic RFC 8785 algorithm writes it, from the documented object. */
function canonicalEntryReference(e: ChainEntry): string {
  return canonicalJson({
    v: CHAIN_FORMAT_VERSION,
    tenant_id: e.tenantId,
    seq: e.seq,
    event_id: e.eventId,
    occurred_at: e.occurredAt,
    recorded_at: e.recordedAt,
    actor_type: e.actorType,
    actor_id: e.actorId,
    action: e.action,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    before_state: e.before,
    after_state: e.after,
    metadata: e.metadata,
    reason: e.reason,
    confidence: e.confidence,
    request_id: e.requestId,
    ip: e.ip,
    user_agent: e.userAgent,
    severity: e.severity,
  });
}

test('the direct canonical form equals the generic algorithm on varied entries', () => {
  const pick = <T>(i: number, xs: T[]) => xs[i % xs.length]!;
  for (let i = 0; i < 500; i++) {
    const e: ChainEntry = {
      tenantId: '6f1c2a4e-0000-4000-8000-00000000000' + (i % 10),
      seq: String(i + 1),
      eventId: pick(i, ['evt-1', 'é"\\\u2028', '😀']),
      occurredAt: '2026-03-29T01:30:00.000Z',
      recordedAt: '2026-03-29T01:30:00.123Z',
      actorType: pick(i, ['user', 'service', 'ai', 'system']),
      actorId: pick(i, [null, 'u-1', 'ünï']),
      action: 'task:completed',
      resourceType: 'task',
      resourceId: pick(i, [null, 't-1']),
      before: pick<ChainEntry['before']>(i, [null, { b: 1, a: [2, { y: true, x: null }] }, {}]),
      after: pick<ChainEntry['after']>(i, [null, { '\ud83d\ude00': 1, '\ufb33': 2, z: 'q' }]),
      metadata: pick<ChainEntry['metadata']>(i, [null, { n: 1.5e-7, m: -0, big: 1e21 }]),
      reason: pick(i, [null, 'line\nbreak']),
      confidence: pick(i, [null, '0.9500']),
      requestId: pick(i, [null, 'req-1']),
      ip: pick(i, [null, '10.0.0.1', '::1']),
      userAgent: pick(i, [null, 'ua/1.0']),
      severity: pick(i, [null, 'high']),
    };
    assert.is(canonicalEntry(e), canonicalEntryReference(e), `entry ${i}`);
  }
});

test.run();
