// "Nothing lost", fuzzed: what the producer (and so the HTTP API) accepts must end up
// stored. A deterministic fuzz (mulberry32; the seed is printed, FUZZ_SEED overrides
// it) sends a few hundred nasty but plausible inputs through createProducer() to a real
// running Bulwark (workers on, real Redis and Postgres, a recording webhook receiver):
// audit.write, audit.writeMany and alert.send with text from every Unicode plane,
// noncharacters, combining marks, RTL and zero-width marks, NUL and lone surrogates in
// every string position (object keys at depth too), strings at and around every
// documented limit, deep and wide JSON near the size limits, odd numbers, instants at
// the range edges and DST-ambiguous local times, every actor type, security:*
// severities, addresses in every form, eventIds at the pattern's edges and repeated
// inside one writeMany; and, between them, tenant settings PATCHes through
// updateTenantSettings (quiet hours in unusual zones, windows crossing midnight, start
// equal to end, limits at their bounds) for tenants whose channels route severities in
// different ways.
//
// A call that throws ValidationError is fine (counted). A call that is accepted must,
// once the queues are idle, be stored: the audit row with the canonical content the
// docs describe (text byte for byte, redaction applied, instants in UTC ms, confidence
// to four decimals) and `bulwark audit verify` passing; an alert's ledger row with its
// fields and a final or documented waiting outcome; a security entry's alert too. No
// job failed or waits for a retry, and the workers logged no error and no job failure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { canonicalJson } from '../../../lib/audit/chain.js';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE } from '../../../lib/contracts/alert-delivery.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { ValidationError } from '../../../lib/errors.js';
import { maskUrlCredentials } from '../../../lib/redact.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { getTenantSettings, updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, securityAlertIdFor, type Producer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { runCli } from '../../helpers/cli.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig } from '../../helpers/env.js';
import { cleanup, bulwarkTeardown } from '../../helpers/lifecycle.js';
import { queueIdle } from '../../helpers/queues.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { createFuzz } from '../../helpers/fuzz.js';

// ---------------------------------------------------------------- the PRNG
const { seed: SEED, int, pick, chance, word } = createFuzz('producer-durability-fuzz');
let counter = 0;
const unique = () => `${(++counter).toString(36)}${word(4)}`;
/**
 * Most inputs are plausible and valid, edges included; some carry one wrong value.
 * `budget` is how many wrong values the input being built may still get.
 */
let budget = 0;
const startInput = (pWrong: number) => void (budget = chance(pWrong) ? 1 : 0);
function breaking(p = 0.3): boolean {
  if (budget === 0 || !chance(p)) return false;
  budget--;
  return true;
}
const either = <T>(good: readonly T[], bad: readonly T[], p = 0.3): T => (breaking(p) ? pick(bad) : pick(good));

// ---------------------------------------------------------------- nasty text
/** Storable pieces: every plane, noncharacters, marks, bidi, controls, JSON and array-literal syntax. */
const PIECES: readonly string[] = [
  'plain',
  'a',
  ' ',
  '  lead',
  'trail  ',
  'NULL',
  'null',
  '""',
  '"',
  '\\',
  '\\"',
  '{',
  '}',
  ',',
  '{a,b}',
  "'",
  '`',
  '$1',
  '%s',
  '<b>',
  '&amp;',
  '\t',
  '\n',
  '\r\n',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\ufffe',
  '\uffff',
  '\ufdd0',
  '\ufdef',
  '\u{1fffe}',
  '\u{1ffff}',
  '\u{10fffe}',
  '\u{10ffff}',
  '\u{e0001}',
  '\u{f0000}',
  '\u{100000}',
  'e\u0301',
  'a\u0300\u0301\u0302\u0303\u0304\u0305',
  'Z\u0351\u0352\u0353\u0354',
  '\u0301',
  '\u202eevil\u202c',
  '\u200fשלום',
  'مرحبا',
  '\u2066iso\u2069',
  'עברית123',
  '😀',
  '👩\u200d👩\u200d👧',
  '🇩🇪',
  '\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}',
  '𝕏',
  '\u{20000}',
  '\u{2fa1d}',
  '\u{30000}',
  'Grüße',
  'ß',
  'İ',
  'ﬃ',
  '½',
  'Ⅻ',
  '𐍈',
  '\u{16fe0}',
  '\u{1d11e}',
  '\u{e0100}',
  'https://user:pw@host.example/path',
  'x://a:b@c',
  'postgres://app:s3cr3t@db:5432/x',
];
/** What Postgres cannot store, or stores altered: NUL and unpaired surrogates. */
const BAD: readonly string[] = ['\u0000', 'a\u0000b', '\ud800', '\udfff', '\udc00\ud800', 'x\ud83d', '\ude00y'];
/** One UTF-16 unit each, for padding to an exact length. */
const SINGLE: readonly string[] = ['a', 'é', '\ufffe', '\uffff', '\u202e', '\u0301', ' ', '"', '\\', '\u2028', 'ש'];

function nasty(maxPieces = 4): string {
  let s = '';
  for (let i = 0, n = 1 + int(maxPieces); i < n; i++) s += pick(PIECES);
  return s;
}
/** Exactly `len` UTF-16 units of nasty text, never splitting a pair. */
function ofLength(len: number): string {
  let s = '';
  while (s.length < len) {
    const p = pick(PIECES);
    s += s.length + p.length <= len ? p : pick(SINGLE);
  }
  return s;
}
/** Bad text somewhere in otherwise good text. */
const withBad = (s = nasty(2)) => {
  const at = int(s.length + 1);
  return s.slice(0, at) + pick(BAD) + s.slice(at);
};

/** At most `max` UTF-16 units, a pair never split. */
function upTo(s: string, max: number): string {
  const t = s.slice(0, max);
  return /[\ud800-\udbff]$/.test(t) ? t.slice(0, -1) : t;
}
/** Text for a field of at most `max` characters: often at or near the limit; when breaking, over it or unstorable. */
function text(max: number, min = 0): string {
  const r = int(100);
  if (r < 10 && breaking(0.6)) return r < 5 ? withBad() : ofLength(max + 1);
  if (r < 18) return ofLength(max);
  if (r < 24) return ofLength(max - 1);
  if (r < 27 && min === 0) return '';
  if (r < 30) return ofLength(Math.max(min, 1));
  return upTo(nasty(), max) || 'x';
}

// ---------------------------------------------------------------- nasty JSON
const NUMBERS: readonly number[] = [
  -0,
  0,
  1,
  -1,
  0.1,
  0.30000000000000004,
  1e308,
  -1e308,
  1.7976931348623157e308,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 64,
  12345678901234567890,
  1e21,
  1e-7,
  123e-20,
  1e300,
  Number.MAX_SAFE_INTEGER,
  4.35,
  0.000001,
];
const KEYS: readonly string[] = [
  'a',
  '',
  ' ',
  'status',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'password',
  'accessToken',
  'Authorization',
  'client_secret',
  'X-Api-Key',
  'sessionId',
  'tokenizer',
  'pass',
  'passenger',
  'privateKey',
  'cookies',
  'k'.repeat(300),
  '0',
  '-1',
  '1e3',
  'ключ',
  '键',
  '😀',
  '\ufffe',
  '\u{10ffff}',
  'e\u0301',
  '\u202e',
  'a.b',
  '$ref',
  'a\nb',
];
function key(): string {
  const r = int(100);
  if (r < 3 && breaking()) return withBad(pick(KEYS));
  if (r < 70) return pick(KEYS);
  return nasty(2);
}

function jsonValue(depth: number): unknown {
  const r = int(100);
  if (depth > 3 || r < 25) return pick(NUMBERS);
  if (r < 45) return chance(0.03) && breaking() ? withBad() : nasty();
  if (r < 52) return pick([true, false, null]);
  if (r < 75) return Array.from({ length: int(5) }, () => jsonValue(depth + 1));
  return jsonObject(depth + 1, 1 + int(5));
}
/** An object built by defining properties, so "__proto__" is an own key as JSON.parse makes it. */
function jsonObject(depth: number, width: number): Record<string, unknown> {
  const entries: Array<[string, unknown]> = Array.from({ length: width }, () => [key(), jsonValue(depth)]);
  return Object.fromEntries(entries);
}
/** Nested `depth` levels below the root object (the contract takes 32). */
function deep(depth: number): Record<string, unknown> {
  let v: unknown = pick(['leaf', 1, null, '\u{10ffff}']);
  for (let i = 0; i < depth; i++) v = chance(0.5) ? [v] : Object.fromEntries([[pick(KEYS), v]]);
  return Object.fromEntries([['root', v]]);
}
const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
/** An object of exactly `target` bytes as JSON, padded with nasty text; `secrets` short secret-named members first. */
function ofBytes(target: number, secrets = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < secrets; i++) o[`token${i}`] = i % 2;
  if (secrets > 0 && chance(0.5)) o.url = 'x://a:b@c';
  o.pad = '';
  const room = target - bytes(o);
  // Multi-byte text JSON writes as itself first, then ASCII to land on the exact size.
  const plain = PIECES.filter((p) => !/[\\"\u0000-\u001f]/.test(p));
  let pad = '';
  let size = 0;
  while (size < room - 400) {
    const p = chance(0.5) ? pick(plain) : 'x'.repeat(64);
    pad += p;
    size += Buffer.byteLength(p);
  }
  o.pad = pad + 'x'.repeat(Math.max(0, room - size));
  return o;
}
function jsonField(limit: number): unknown {
  const r = int(100);
  if (r < 25) return undefined;
  if (r < 30) return null;
  if (r < 34) return deep(breaking(0.5) ? 33 : pick([31, 32]));
  if (r < 40) return ofBytes(limit + (breaking(0.5) ? 1 : pick([-1, 0])));
  // Under the limit as given, over it once secrets are redacted ("[REDACTED]" is longer than 0).
  if (r < 44 && breaking(0.7)) return ofBytes(limit - pick([0, 5, 40]), 20 + int(40));
  if (r < 44) return ofBytes(limit - 2000 - int(3000), 20 + int(40));
  if (r < 48)
    return Object.fromEntries(Array.from({ length: 200 + int(300) }, (_, i) => [`${pick(KEYS)}${i}`, pick(NUMBERS)]));
  return jsonObject(0, int(6));
}

// ---------------------------------------------------------------- instants
const INSTANTS: readonly unknown[] = [
  '0001-01-01T00:00:00Z',
  '0001-01-01T00:00:00.000+00:00',
  '0001-01-01T00:00:00-14:00',
  '0001-01-01T00:00:00.0001Z',
  '0001-01-01T01:00:00+01:00',
  '9999-12-31T23:59:59.999Z',
  '9999-12-31T23:59:59.9999999Z',
  '9999-12-31T23:59:59+14:00',
  '9999-12-31T22:00:00-01:59',
  '2026-11-01T01:30:00-04:00',
  '2026-11-01T01:30:00-05:00',
  '2026-03-08T02:30:00-05:00',
  '2026-04-05T02:45:00+13:45',
  '2026-04-05T02:45:00+12:45',
  '2026-09-27T02:45:00+12:45',
  '2026-11-01T01:30:00-02:30',
  '2026-10-04T02:15:00+11:00',
  '2026-04-05T01:45:00+10:30',
  '1970-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999Z',
  '2024-02-29T12:00:00+05:45',
  '2026-01-01T00:00:00+23:59',
  '2026-01-01T00:00:00-23:59',
  '2026-01-01T00:00:00z',
  '2026-01-01T00:00Z',
  '2026-01-01T00:00:00.123456789+05:30',
  new Date('0001-01-01T00:00:00Z'),
  new Date('9999-12-31T23:59:59.999Z'),
  new Date(0),
];
/** Outside 0001-9999 in UTC, impossible, or without a zone. */
const WRONG_INSTANTS: readonly unknown[] = [
  '0001-01-01T00:59:59+01:00',
  '9999-12-31T23:59:59.999-00:01',
  '0000-12-31T23:59:59Z',
  '+010000-01-01T00:00:00Z',
  '10000-01-01T00:00:00Z',
  '2026-02-29T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '2026-06-30T23:59:60Z',
  '2026-01-01T00:00:00',
  '2026-01-01',
  '2026-01-01T00:00:00+0530',
  ' 2026-01-01T00:00:00Z',
  new Date(-62135596800001),
  new Date(253402300800000),
  new Date(NaN),
  new Date(8.64e15),
];

/**
 * The instant the docs say is stored for an occurredAt as given: the time in UTC,
 * truncated to milliseconds. Worked out here from the text, not by Date.parse.
 */
function expectedInstant(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/.exec(
    String(v),
  );
  if (!m) return NaN;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6] ?? 0), Number((m[7] ?? '').padEnd(3, '0').slice(0, 3)));
  const offsetMin = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) : 0;
  return d.getTime() - offsetMin * 60_000;
}
const instant = () =>
  chance(0.25)
    ? undefined
    : breaking(0.2)
      ? pick(WRONG_INSTANTS)
      : chance(0.6)
        ? pick(INSTANTS)
        : new Date(Date.now() - int(1e11) + 5e10).toISOString().replace('Z', pick(['Z', '+00:00', '-00:00']));

// ---------------------------------------------------------------- audit entries
const ACTIONS = [
  'task:completed',
  'security:auth-failed',
  'security:x',
  'a:b',
  `a:${'b'.repeat(98)}`,
  `security:${'z'.repeat(91)}`,
  'x-y_z:a.b-c:d',
  'settings:updated',
  'a0:0',
];
const WRONG_ACTIONS = [`a:${'b'.repeat(99)}`, 'Task:Done', 'security:', 'security:auth failed', 'task', ':x'];
const IPS = [
  '127.0.0.1',
  '0.0.0.0',
  '255.255.255.255',
  '::',
  '::1',
  '::ffff:192.0.2.1',
  '2001:DB8::1',
  '2001:0db8:0000:0000:0000:0000:0000:0001',
  '1:2:3:4:5:6:7:8',
  '::1.2.3.4',
  '1::',
  'fe80::1',
];
const WRONG_IPS = ['fe80::1%eth0', '256.1.1.1', '1.2.3.04', ' 1.2.3.4', '1.2.3', '::ffff:1.2.3.256', '[::1]', ''];
const EVENT_IDS = () => [
  'a',
  '0',
  `e${'x'.repeat(127)}`,
  `${unique()}.${'_'.repeat(10)}:${'-'.repeat(5)}`,
  randomUUID().toUpperCase(),
  `Z${unique()}...`,
];
const WRONG_EVENT_IDS = () => [
  `e${'x'.repeat(128)}`,
  `.${unique()}`,
  `-${unique()}`,
  `${unique()} `,
  `${unique()}/x`,
  `${unique()}é`,
  `${unique()}\u0000`,
];

const tenants: Array<{ id: string; zone: string }> = [];
function auditEntry(pWrong = 0.3): Record<string, unknown> {
  startInput(pWrong);
  const e: Record<string, unknown> = {};
  const tenant = pick(tenants).id;
  e.tenantId = chance(0.1) ? tenant.toUpperCase() : tenant;
  if (chance(0.6)) e.eventId = chance(0.25) ? either(EVENT_IDS(), WRONG_EVENT_IDS()) : `ev-${unique()}`;
  const at = instant();
  if (at !== undefined) e.occurredAt = at;
  e.actorType = either(['user', 'service', 'ai', 'system'], ['robot', 'AI', ''], 0.1);
  if (chance(0.8)) e.actorId = text(255);
  e.action = chance(0.6)
    ? pick(['task:completed', 'security:auth-failed', 'security:x'])
    : either(ACTIONS, WRONG_ACTIONS);
  e.resourceType = text(100, 1);
  if (chance(0.7)) e.resourceId = text(255);
  for (const [field, limit] of [
    ['before', 65536],
    ['after', 65536],
    ['metadata', 16384],
  ] as const) {
    const v = jsonField(limit);
    if (v !== undefined) e[field] = v;
  }
  const ai = e.actorType === 'ai';
  if (ai ? !breaking(0.2) : chance(0.3)) e.reason = ai && breaking(0.2) ? pick(['   ', '\t\n']) : text(4000);
  if (ai && e.reason === undefined && budget === 0) e.reason = '\u200b';
  if (ai ? !breaking(0.2) : chance(0.2))
    e.confidence = either(
      [0, 1, -0, 5e-324, 0.00005, 0.00015, 0.99995, 0.12345, 1 - 1e-16, 0.5],
      [1.0000001, -1e-300, NaN, Infinity],
    );
  if (chance(0.4)) e.requestId = text(128);
  if (chance(0.4)) e.ip = either(IPS, WRONG_IPS);
  if (chance(0.4)) e.userAgent = text(512);
  if ((e.action as string).startsWith('security:') ? !breaking(0.2) : chance(0.1))
    e.severity = either(['low', 'medium', 'high', 'critical', 'high', 'critical'], ['urgent', 'HIGH']);
  if (breaking(0.05)) e.extra = 1;
  return e;
}

// ---------------------------------------------------------------- alerts
const usedAlertIds = new Set<string>();
function alertId(): string | undefined {
  const r = int(100);
  if (r < 50) return undefined;
  if (r < 54) {
    // Each special id once per run: an id another tenant's alert holds is refused for good (documented).
    const special = pick([
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
    ]);
    if (!usedAlertIds.has(special.toLowerCase())) {
      usedAlertIds.add(special.toLowerCase());
      return special;
    }
  }
  if (r < 58 && breaking()) return randomUUID().replace(/^(.{14})./, '$18');
  if (r < 70) return randomUUID().toUpperCase();
  return randomUUID();
}
const RUNBOOKS = () => [
  'https://example.com/runbook',
  'http://a',
  `https://e.com/${'a'.repeat(2048 - 14)}`,
  'https://e.com/\u0001',
  'https://bücher.example/ü?q=😀',
  ' https://e.com/sp ',
  'https://e.com/a\tb',
  'https://e.com/\u{10ffff}',
  'https://u:p@e.com/',
  'HTTPS://E.COM/',
  'https://[::1]:8080/x',
  `https://e.com/${ofLength(1900)}`,
];
const WRONG_RUNBOOKS = () => [
  `https://e.com/${'a'.repeat(2049 - 14)}`,
  `https://e.com/${'a'.repeat(5000)}`,
  'https://e.com/x\u0000',
  '\u0000https://e.com/',
  'https://e.com/\ud800',
  'ftp://e.com/',
  'javascript:alert(1)',
  'https:e.com',
];
function labels(): Record<string, string> {
  const n = pick([0, 1, 2, 5, 20, 100]);
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const name = chance(0.05)
      ? breaking()
        ? '__proto__'
        : pick(['constructor', 'toString', 'hasOwnProperty'])
      : chance(0.05) && breaking()
        ? withBad()
        : chance(0.1)
          ? ofLength(breaking() ? 65 : 64)
          : chance(0.05)
            ? ''
            : `${upTo(nasty(1), 40)}${i}`;
    entries.push([name, text(256)]);
  }
  return Object.fromEntries(entries);
}
function alertInput(): Record<string, unknown> {
  startInput(0.3);
  const a: Record<string, unknown> = {};
  const id = alertId();
  if (id !== undefined) a.id = id;
  const tenant = pick(tenants).id;
  a.tenantId = chance(0.1) ? tenant.toUpperCase() : tenant;
  a.type = chance(0.8)
    ? pick(['disk.full', 'security:auth-failed', 'cpu', 'a'])
    : either(['x'.repeat(100), 'a:b.c-d_e', 'a-0_.:'], ['x'.repeat(101), 'Disk.Full', '1abc', '']);
  a.severity = either(['info', 'warning', 'high', 'critical'], ['low', 'Critical'], 0.1);
  a.title = text(200, 1);
  if (chance(0.6)) a.body = text(4000);
  if (chance(0.6)) a.labels = labels();
  if (chance(0.4)) a.groupKey = breaking(0.15) ? '' : text(200, 1);
  if (chance(0.4)) a.userId = breaking(0.15) ? '' : text(255, 1);
  if (chance(0.4)) a.runbookUrl = either(RUNBOOKS(), WRONG_RUNBOOKS(), 0.4);
  const at = instant();
  if (at !== undefined) a.occurredAt = at;
  if (chance(0.3)) a.details = jsonField(16384) ?? {};
  if (breaking(0.03)) a.source = { auditEventId: 'x' };
  return a;
}

// ---------------------------------------------------------------- settings
const HHMM = () =>
  either(
    [
      '00:00',
      '23:59',
      '12:00',
      '22:00',
      '07:00',
      '02:30',
      '01:45',
      `${String(int(24)).padStart(2, '0')}:${String(int(60)).padStart(2, '0')}`,
    ],
    ['24:00', '7:00', '12:60'],
  );
function settingsPatch(): unknown {
  startInput(0.35);
  const alerts: Record<string, unknown> = {};
  if (chance(0.4)) alerts.maxPerWindow = either([1, 2, 100000, 50], [100001, 0, 1.5, '5']);
  if (chance(0.3)) alerts.windowSeconds = either([1, 86400, 60], [86401, 0]);
  if (chance(0.4)) alerts.cooldownSeconds = either([0, 0, 1, 86400], [-1, 86401]);
  if (chance(0.3)) alerts.groupWaitSeconds = either([0, 1, 2, 3600], [3601, -1]);
  if (chance(0.3))
    alerts.userThrottle = {
      ...(chance(0.7) ? { limit: either([0, 1, 100000], [100001]) } : {}),
      ...(chance(0.5) ? { windowSeconds: either([1, 86400], [0]) } : {}),
    };
  if (chance(0.6)) {
    const start = HHMM();
    alerts.quietHours = {
      ...(chance(0.8) ? { enabled: chance(0.7) } : {}),
      ...(chance(0.8) ? { start } : {}),
      ...(chance(0.8) ? { end: chance(0.2) ? start : HHMM() } : {}),
      ...(chance(0.4) ? { bypassSeverity: either(['warning', 'high', 'critical'], ['info']) } : {}),
      ...(chance(0.4) ? { mode: either(['defer', 'drop'], ['skip']) } : {}),
    };
  }
  const patch: Record<string, unknown> = { alerts };
  if (chance(0.1)) patch.api = { requestsPerWindow: either([1, 1_000_000], [1_000_001]) };
  if (chance(0.1)) patch.retention = { defaultDays: either([1, 3650], [3651]) };
  if (breaking(0.05)) patch.bogus = true;
  if (breaking(0.03)) return pick([null, [], 'alerts']);
  return patch;
}

// ---------------------------------------------------------------- the running Bulwark
let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let receiver: Receiver;
const logs = captureLogs();
const queues: Queue[] = [];
const system = { type: 'system' as const, id: 'fuzz' };
const ZONES = [
  'Pacific/Chatham',
  'Asia/Kathmandu',
  'America/St_Johns',
  'Australia/Lord_Howe',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
  'Antarctica/Troll',
  'asia/kolkata',
];
/** Each tenant's channels and the severities each takes: every severity is taken by at least one. */
const ROUTES: string[][][] = [
  [['info', 'warning', 'high', 'critical']],
  [
    ['info', 'warning'],
    ['warning', 'high', 'critical'],
  ],
  [['critical'], ['info', 'warning', 'high']],
  [
    ['info', 'warning', 'high', 'critical'],
    ['info', 'warning', 'high', 'critical'],
  ],
  [['info'], ['warning'], ['high'], ['critical']],
  [
    ['high', 'critical'],
    ['info', 'warning', 'high', 'critical'],
  ],
  [['info', 'warning', 'high', 'critical']],
  [
    ['warning', 'critical'],
    ['info', 'high'],
  ],
];

test.before(async () => {
  receiver = await startReceiver();
  db = await createTestDatabase();
  const config = testConfig(db.url, { SETTINGS_CACHE_MS: '0' });
  bulwark = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream });
  producer = createProducer({
    redisUrl: config.redisUrl,
    queuePrefix: config.queuePrefix,
    runbookBaseUrl: 'https://git.example.com/bulwark/blob/main/docs/runbooks',
  });
  for (const name of [AUDIT_WRITE_QUEUE, ALERT_QUEUE, ALERT_DELIVERY_QUEUE])
    queues.push(new Queue(name, { connection: bulwark.ctx.redis, prefix: config.queuePrefix }));
  const { prisma } = bulwark.ctx;
  for (const [i, zone] of ZONES.entries()) {
    const t = await createTenant(prisma, { name: `fuzz-${i}`, timezone: zone });
    await updateTenantSettings(
      prisma,
      t.id,
      { alerts: { maxPerWindow: 100000, cooldownSeconds: 0, userThrottle: { limit: 0 } } },
      system,
    );
    await setSecret(
      prisma,
      requireMasterKeys(config),
      { tenantId: t.id, name: 'hook', value: `hook-secret-${i}` },
      system,
    );
    for (const [j, severities] of ROUTES[i]!.entries()) {
      await addChannel(
        prisma,
        {
          tenantId: t.id,
          name: `hook-${j}`,
          type: 'webhook',
          target: `${receiver.url}/t${i}/c${j}`,
          secretRef: 'secret://hook',
          severities: severities as never,
        },
        system,
        LOOPBACK_TARGETS,
      );
    }
    tenants.push({ id: t.id, zone });
  }
});
test.after(
  cleanup([
    ['close queues', () => Promise.all(queues.map((q) => q.close()))],
    ...bulwarkTeardown(() => ({ producer, bulwark, db })),
    ['close receiver', () => receiver?.close()],
  ]),
);

// ---------------------------------------------------------------- expected stored forms
const SECRET_KEY =
  /passw(or)?d|passphrase|^pass$|secret|token|api[-_]?key|authori[sz]ation|cookie|credential|private[-_]?key|session[-_]?id/i;
/** docs/jobs/audit-write.md, *Redaction*: secret-named keys' values replaced whole (null stays), URL passwords masked. */
function redacted(v: unknown): unknown {
  if (typeof v === 'string') return maskUrlCredentials(v);
  if (Array.isArray(v)) return v.map(redacted);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, SECRET_KEY.test(k) && x !== null ? '[REDACTED]' : redacted(x)]),
    );
  }
  return v;
}
const json = (v: unknown) => (v === undefined || v === null ? null : canonicalJson(v));

interface AcceptedAudit {
  input: Record<string, unknown>;
  eventId: string;
  /** Which producer call sent it: of entries with one tenant and eventId, the first of one writeMany is stored; across calls, whichever job ran first. */
  call: number;
  sentAt: number;
}
interface AcceptedAlert {
  input: Record<string, unknown>;
  alertId: string;
  sentAt: number;
}
const stats = {
  audit: { accepted: 0, refused: 0 },
  alerts: { accepted: 0, refused: 0 },
  settings: { accepted: 0, refused: 0 },
  refusedBy: new Map<string, number>(),
};
const acceptedAudit: AcceptedAudit[] = [];
const acceptedAlerts: AcceptedAlert[] = [];
const settingsChanges = new Map<string, number>();
const lastSettings = new Map<string, unknown>();
let calls = 0;
/** Settings changes of one tenant run one at a time: each reads, merges and writes. */
const settingsTurn = new Map<string, Promise<unknown>>();
const failures: string[] = [];

function refused(kind: 'audit' | 'alerts' | 'settings', err: unknown, what: string): void {
  if (!(err instanceof ValidationError)) {
    failures.push(`${what}: threw ${(err as Error)?.name}: ${(err as Error)?.message} (not a ValidationError)`);
    return;
  }
  stats[kind].refused++;
  for (const f of err.fields) {
    const field = f.path.replace(/^\d+\./, '').split('.')[0] || '(root)';
    stats.refusedBy.set(field, (stats.refusedBy.get(field) ?? 0) + 1);
  }
}

function noteAudit(input: Record<string, unknown>, eventId: string, call: number, sentAt: number): void {
  acceptedAudit.push({ input, eventId, call, sentAt });
  stats.audit.accepted++;
}

async function runOne(): Promise<void> {
  const r = int(100);
  const sentAt = Date.now();
  const call = ++calls;
  if (r < 40) {
    const e = auditEntry();
    try {
      const res = await producer.audit.write(e as never);
      noteAudit(e, res.eventId, call, sentAt);
    } catch (err) {
      refused('audit', err, 'audit.write');
    }
  } else if (r < 58) {
    const list = Array.from({ length: 1 + int(6) }, () => auditEntry(0.05));
    // The same eventId twice in one writeMany: the first is stored, the second is a duplicate.
    if (list.length > 1 && chance(0.4)) {
      const first = list[0]!;
      first.eventId ??= `dup-${unique()}`;
      list[list.length - 1]!.eventId = first.eventId;
      list[list.length - 1]!.tenantId = first.tenantId;
    }
    try {
      const res = await producer.audit.writeMany(list as never);
      list.forEach((e, i) => noteAudit(e, res.eventIds[i]!, call, sentAt));
    } catch (err) {
      refused('audit', err, 'audit.writeMany');
    }
  } else if (r < 92) {
    const a = alertInput();
    try {
      const res = await producer.alert.send(a as never);
      acceptedAlerts.push({ input: a, alertId: res.alertId, sentAt });
      stats.alerts.accepted++;
    } catch (err) {
      refused('alerts', err, 'alert.send');
    }
  } else {
    const tenant = pick(tenants).id;
    const patch = settingsPatch();
    const turn = (settingsTurn.get(tenant) ?? Promise.resolve()).then(async () => {
      try {
        const before = JSON.stringify(await getTenantSettings(bulwark.ctx.prisma, tenant));
        const after = await updateTenantSettings(bulwark.ctx.prisma, tenant, patch, system);
        if (JSON.stringify(after) !== before) settingsChanges.set(tenant, (settingsChanges.get(tenant) ?? 0) + 1);
        lastSettings.set(tenant, after);
        stats.settings.accepted++;
      } catch (err) {
        refused('settings', err, 'updateTenantSettings');
      }
    });
    settingsTurn.set(tenant, turn);
    await turn;
  }
}

// ---------------------------------------------------------------- the run
test(`a few hundred nasty inputs (seed ${SEED}): every accepted one is stored whole, no job fails, no error is logged`, async () => {
  const started = Date.now();
  // Settings changes of one tenant run one at a time (they read, merge and write); the rest in bursts, so writes coalesce.
  for (let burst = 0; burst < 80; burst++) {
    const ops = Array.from({ length: 1 + int(10) }, () => runOne);
    await Promise.all(ops.map((op) => op()));
  }
  // A job waiting for a retry is a violation reported below, not a job to wait for.
  const due = (j: Job) => j.attemptsMade === 0 && j.timestamp + (j.opts.delay ?? 0) < Date.now() + 5_000;
  for (const q of queues) await queueIdle(q, due);
  // A deliver job queued by a flush that became due during the wait above.
  for (const q of queues) await queueIdle(q, due);
  const sent = Date.now();

  // No job failed or waits for a retry.
  for (const q of queues) {
    const failed = await q.getFailed();
    for (const j of failed) failures.push(`failed ${q.name} job ${j.id}: ${j.failedReason}`);
    for (const j of (await q.getDelayed()).filter((x) => x.attemptsMade > 0))
      failures.push(`${q.name} job ${j.id} retrying: ${j.failedReason}`);
  }
  for (const e of logs.events()) {
    if ((e.level as number) >= 50 || e.event === 'job_failed')
      failures.push(`logged: ${JSON.stringify(e).slice(0, 400)}`);
  }

  // Every accepted audit entry: its row, with the content the docs say is stored.
  const sql = async <R>(q: string, params: unknown[] = []) => (await superuserQuery(db.url, q, params)).rows as R[];
  type AuditRow = Record<string, string | null> & { occurred_ms: string };
  const rows = await sql<AuditRow>(
    `SELECT tenant_id::text, event_id, (extract(epoch from occurred_at) * 1000)::bigint::text AS occurred_ms, actor_type, actor_id, action, resource_type, resource_id,
            before_state::text AS before_state, after_state::text AS after_state, metadata::text AS metadata, reason, confidence::text AS confidence,
            request_id, ip, user_agent, severity FROM audit_entries`,
  );
  const byKey = new Map(rows.map((r) => [`${r.tenant_id}|${r.event_id}`, r]));
  const keyOf = (a: AcceptedAudit) => `${String(a.input.tenantId).toLowerCase()}|${a.eventId}`;
  const sharing = new Map<string, AcceptedAudit[]>();
  for (const a of acceptedAudit) sharing.set(keyOf(a), [...(sharing.get(keyOf(a)) ?? []), a]);
  let compared = 0;
  for (const a of acceptedAudit) {
    const e = a.input;
    const k = keyOf(a);
    const row = byKey.get(k);
    if (!row) {
      failures.push(`audit entry ${k} accepted but not stored: ${JSON.stringify(e).slice(0, 300)}`);
      continue;
    }
    // One eventId sent more than once: the first of one call is the stored one; across calls it depends on the jobs' order.
    const same = sharing.get(k)!;
    if (same[0] !== a || same.some((b) => b.call !== a.call)) continue;
    compared++;
    const want: Record<string, string | null> = {
      actor_type: e.actorType as string,
      actor_id: (e.actorId as string | undefined) ?? null,
      action: e.action as string,
      resource_type: e.resourceType as string,
      resource_id: (e.resourceId as string | undefined) ?? null,
      before_state: json(redacted(e.before)),
      after_state: json(redacted(e.after)),
      metadata: json(redacted(e.metadata)),
      reason: (e.reason as string | undefined) ?? null,
      confidence: e.confidence === undefined ? null : (e.confidence as number).toFixed(4),
      request_id: (e.requestId as string | undefined) ?? null,
      ip: (e.ip as string | undefined) ?? null,
      user_agent: (e.userAgent as string | undefined) ?? null,
      severity: (e.severity as string | undefined) ?? null,
    };
    const got: Record<string, string | null> = { ...want };
    for (const f of Object.keys(want))
      got[f] = ['before_state', 'after_state', 'metadata'].includes(f)
        ? json(row[f] === null ? null : JSON.parse(row[f]!))
        : row[f]!;
    for (const f of Object.keys(want)) {
      if (got[f] !== want[f])
        failures.push(
          `audit entry ${k}: ${f} stored as ${JSON.stringify(got[f])?.slice(0, 200)}, sent ${JSON.stringify(want[f])?.slice(0, 200)}`,
        );
    }
    const ms = Number(row.occurred_ms);
    if (e.occurredAt === undefined) {
      if (ms < a.sentAt - 1000 || ms > sent)
        failures.push(`audit entry ${k}: default occurredAt ${new Date(ms).toISOString()} is not the time it was sent`);
    } else if (ms !== expectedInstant(e.occurredAt)) {
      failures.push(
        `audit entry ${k}: occurredAt ${JSON.stringify(e.occurredAt)} stored as ${new Date(ms).toISOString()}`,
      );
    }
  }

  // The chains verify, the fuzzed entries and the settings:updated ones among them.
  const verify = await runCli(['audit', 'verify'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  if (verify.code !== 0)
    failures.push(`bulwark audit verify exited ${verify.code}: ${verify.out} ${verify.err}`.slice(0, 600));

  // Every accepted alert: its ledger row, with its fields and a final or documented waiting outcome.
  type LedgerRow = {
    id: string;
    tenant_id: string;
    type: string;
    severity: string;
    title: string;
    body: string | null;
    labels: string | null;
    runbook_url: string | null;
    group_key: string;
    user_id: string | null;
    occurred_ms: string;
    outcome: string;
    reason: string | null;
  };
  const ledger = await sql<LedgerRow>(
    `SELECT id::text, tenant_id::text, type, severity, title, body, labels::text AS labels, runbook_url, group_key, user_id,
            (extract(epoch from occurred_at) * 1000)::bigint::text AS occurred_ms, outcome, reason FROM alert_ledger`,
  );
  const ledgerById = new Map(ledger.map((r) => [r.id, r]));
  const FINAL = new Set(['delivered', 'suppressed', 'grouped', 'deferred']);
  for (const a of acceptedAlerts) {
    const x = a.input;
    const row = ledgerById.get(a.alertId.toLowerCase());
    if (!row) {
      failures.push(`alert ${a.alertId} accepted but has no ledger row: ${JSON.stringify(x).slice(0, 300)}`);
      continue;
    }
    if (!FINAL.has(row.outcome))
      failures.push(`alert ${a.alertId}: outcome ${row.outcome}/${row.reason} after the queues went idle`);
    const want = {
      tenant_id: String(x.tenantId).toLowerCase(),
      type: x.type,
      severity: x.severity,
      title: x.title,
      body: x.body ?? null,
      labels: json(x.labels),
      runbook_url: typeof x.runbookUrl === 'string' ? x.runbookUrl.trim().replace(/[\t\n\r]/g, '') : null,
      group_key: x.groupKey ?? x.type,
      user_id: x.userId ?? null,
    };
    const got = { ...row, labels: json(row.labels === null ? null : JSON.parse(row.labels)) } as Record<
      string,
      unknown
    >;
    for (const [f, v] of Object.entries(want)) {
      if (got[f] !== v)
        failures.push(
          `alert ${a.alertId}: ${f} stored as ${JSON.stringify(got[f])?.slice(0, 200)}, sent ${JSON.stringify(v)?.slice(0, 200)}`,
        );
    }
    const ms = Number(row.occurred_ms);
    if (x.occurredAt === undefined ? ms < a.sentAt - 1000 || ms > sent : ms !== expectedInstant(x.occurredAt)) {
      failures.push(
        `alert ${a.alertId}: occurredAt ${JSON.stringify(x.occurredAt)} stored as ${new Date(ms).toISOString()}`,
      );
    }
  }
  // Security entries of severity high or critical raise one alert per eventId (version 8
  // ids, securityAlertIdFor). Of entries sharing an eventId, the first of a job is the one
  // stored and the only one that may raise it: exact for an eventId sent by one call;
  // across calls (coalesced into jobs by timing), only "none unless one was a security entry".
  const raises = (a: AcceptedAudit) =>
    String(a.input.action).startsWith('security:') && ['high', 'critical'].includes(a.input.severity as string);
  for (const t of tenants) {
    const got = ledger.filter((r) => r.tenant_id === t.id && r.id[14] === '8');
    const gotIds = new Set(got.map((r) => r.id));
    const known = new Set<string>();
    for (const [k, same] of sharing) {
      const [tenantId, eventId] = [k.slice(0, k.indexOf('|')), k.slice(k.indexOf('|') + 1)];
      if (tenantId !== t.id) continue;
      const id = securityAlertIdFor(tenantId, eventId);
      known.add(id);
      const oneCall = same.every((b) => b.call === same[0]!.call);
      if (oneCall && raises(same[0]!) !== gotIds.has(id))
        failures.push(
          `tenant ${t.zone}: eventId ${eventId} (first entry ${raises(same[0]!) ? 'a' : 'no'} security entry) ${gotIds.has(id) ? 'raised' : 'did not raise'} an alert`,
        );
      if (!oneCall && !same.some(raises) && gotIds.has(id))
        failures.push(`tenant ${t.zone}: eventId ${eventId} raised an alert, but no entry of it is a security entry`);
    }
    for (const r of got) {
      if (!known.has(r.id)) failures.push(`security alert ${r.id}: no accepted entry raised it`);
      if (!FINAL.has(r.outcome))
        failures.push(`security alert ${r.id}: outcome ${r.outcome}/${r.reason} after the queues went idle`);
    }
  }

  // Settings: what the last accepted change returned is what is stored, each change audited.
  for (const t of tenants) {
    if (lastSettings.has(t.id))
      assert.equal(await getTenantSettings(bulwark.ctx.prisma, t.id), lastSettings.get(t.id), `settings of ${t.zone}`);
    const n = (
      await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'settings:updated' AND resource_type = 'tenant_settings'`,
        [t.id],
      )
    )[0]!.n;
    // One more: the permissive settings test.before set.
    if (n !== (settingsChanges.get(t.id) ?? 0) + 1)
      failures.push(`tenant ${t.zone}: ${n} settings:updated entries for ${settingsChanges.get(t.id) ?? 0} changes`);
  }

  const refusedBy = Object.fromEntries([...stats.refusedBy].sort(([, a], [, b]) => b - a));
  console.log(
    `producer-durability-fuzz: ${JSON.stringify({ audit: stats.audit, alerts: stats.alerts, settings: stats.settings })}; ${compared} audit rows compared, ` +
      `${receiver.requests.length} webhook requests; refused fields ${JSON.stringify(refusedBy)}; ${Date.now() - started} ms`,
  );
  assert.ok(failures.length === 0, `${failures.length} violations:\n${failures.slice(0, 40).join('\n')}`);
  // The run reached storage, and the validation, of each kind of input.
  for (const kind of ['audit', 'alerts', 'settings'] as const) {
    assert.ok(stats[kind].accepted > 0, `some ${kind} accepted`);
    assert.ok(stats[kind].refused > 0, `some ${kind} refused`);
  }
});

test.run();
