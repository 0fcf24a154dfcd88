// A deterministic fuzz of every route of docs/api.md against the real server (real
// Redis, Postgres and workers, no mocks). A fixed-seed PRNG (mulberry32; the seed is
// printed, FUZZ_SEED overrides it) builds a few hundred malformed requests: wrong types,
// missing and extra fields, huge strings, deep nesting, arrays for objects, prototype
// keys, NUL bytes and lone surrogates, invalid UTF-8, odd numbers, wrong content types,
// empty and truncated bodies, duplicate keys, bad query strings, path ids, Authorization
// shapes and X-Request-Id values, and raw bytes the HTTP parser refuses.
//
// Every answer: a documented status (never 5xx), the documented error shape with a code
// and message and nothing of a stack, a file path or SQL, and the security headers.
// Afterwards, nothing was half written: the only rows a refused request left are the
// denial entries the docs promise (security:api-key-denied, security:operator-auth-
// denied and their bursts), every accepted write landed, and no job failed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { Queue } from 'bullmq';
import type { Scope } from '../../../lib/apikeys/keys.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { SYSTEM_TENANT_ID } from '../../../lib/audit/record.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE } from '../../../lib/contracts/alert-delivery.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { queueIdle } from '../../helpers/queues.js';
import { createFuzz } from '../../helpers/fuzz.js';

// ---------------------------------------------------------------- the PRNG
const { seed: SEED, int, pick, chance, word } = createFuzz('api-fuzz');
const b64url = (n: number) => Array.from({ length: n }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[int(64)]).join('');

// ---------------------------------------------------------------- the server
const BODY_LIMIT = 262_144;
const DENIAL_ACTIONS = ['security:api-key-denied', 'security:api-key-denial-burst', 'security:operator-auth-denied', 'security:operator-auth-denial-burst'];

let api: ApiHarness;
/** Tenant A takes audit and alerts, S settings, C channels, B is "another tenant". */
const t = {} as Record<'a' | 's' | 'c' | 'b', { id: string; adminKey: string }>;
const keys = {} as Record<'writer' | 'reader' | 'alerter' | 'revoked', string>;
const queues: Queue[] = [];

const keyFor = async (tenantId: string, scopes: Scope[], name = `fuzz ${scopes.join('+')}`) =>
  (await createApiKey(api.bulwark.ctx.prisma, { tenantId, name, scopes }, { type: 'user', id: 'fuzz' })).key;

test.before(async () => {
  // TLS on: HSTS is among the headers checked, and X-Forwarded-For from loopback is
  // believed, so wrong operator credentials come from addresses of their own and never
  // lock the test's own address out.
  api = await startApi({ API_BODY_LIMIT_BYTES: String(BODY_LIMIT), TLS_ENABLED: 'true', SETTINGS_CACHE_MS: '0' });
  for (const [k, name] of [['a', 'fuzz-a'], ['s', 'fuzz-s'], ['c', 'fuzz-c'], ['b', 'fuzz-b']] as const) t[k] = await api.tenant(name);
  for (const tenant of Object.values(t)) {
    const res = await api.call('PATCH', '/v1/settings', { key: tenant.adminKey, body: { api: { requestsPerWindow: 100_000 } } });
    assert.is(res.status, 200, await res.text());
  }
  keys.writer = await keyFor(t.a.id, ['audit:write']);
  keys.reader = await keyFor(t.a.id, ['audit:read']);
  keys.alerter = await keyFor(t.a.id, ['alert:write']);
  keys.revoked = await keyFor(t.a.id, ['audit:write'], 'fuzz revoked');
  await superuserQuery(api.db.url, `UPDATE api_keys SET revoked_at = now() - interval '1 minute' WHERE display_prefix = $1`, [keys.revoked.slice(0, 12)]);
  await setSecret(api.bulwark.ctx.prisma, requireMasterKeys(api.bulwark.ctx.config), { tenantId: t.c.id, name: 'hook', value: 'fuzz-signing-secret' }, { type: 'user', id: 'fuzz' });
  const { redis, config } = api.bulwark.ctx;
  for (const name of [AUDIT_WRITE_QUEUE, ALERT_QUEUE, ALERT_DELIVERY_QUEUE]) queues.push(new Queue(name, { connection: redis, prefix: config.queuePrefix }));
});
test.after(async () => {
  for (const q of queues) await q.close();
  await api?.close();
});

// ---------------------------------------------------------------- requests and what they left
interface Case {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The input is wrong: the answer must be a 4xx. */
  reject?: boolean;
  /** Statuses this case may get; any documented one when absent. */
  expect?: number[];
  /** Wrong operator Basic credentials were presented (an operator-auth-denied entry is due on a 401). */
  operatorWrong?: boolean;
  /** What a 2xx answer wrote, for the checks after the run. */
  kind?: 'audit' | 'batch' | 'alert' | 'channel' | 'channel-delete' | 'settings' | 'tenant';
  /** Sent over a raw socket (bytes fetch refuses to send). */
  raw?: Buffer;
}

interface Reply {
  status: number;
  headers: Map<string, string>;
  text: string;
}

const stats = { requests: 0, byStatus: new Map<number, number>() };
const accepted: Array<{ c: Case; requestId: string; body: Record<string, unknown> }> = [];
/** Request ids whose answer says the key was refused (an api-key-denied entry is due), and those refused with no key at all (none). */
const keyDenied = new Set<string>();
const keyMissing = new Set<string>();
const operatorDenied = new Set<string>();
const refusedIds = new Set<string>();
let fuzzStart: Date;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function send(c: Case): Promise<Reply> {
  if (c.raw) return sendRaw(c.raw);
  const res = await fetch(`${api.url}${c.path}`, { method: c.method, headers: c.headers, body: c.body, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: new Map([...res.headers]), text };
}

/** One request as raw bytes on its own connection; the answer parsed by hand (Content-Length bodies). */
function sendRaw(bytes: Buffer): Promise<Reply> {
  const { port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined); // the server may reset after answering
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP answer to a raw request: ${JSON.stringify(all)}`));
      const [statusLine, ...lines] = all.slice(0, end).split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines) headers.set(l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim());
      const length = Number(headers.get('content-length') ?? NaN);
      const rest = Buffer.from(all.slice(end + 4), 'latin1');
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, text: (Number.isNaN(length) ? rest : rest.subarray(0, length)).toString('utf8') });
    });
    socket.setTimeout(5000, () => socket.destroy());
    socket.write(bytes);
  });
}

const CODES: Record<number, string[]> = {
  400: ['validation_failed', 'invalid_json', 'bad_request'],
  401: ['unauthenticated'],
  403: ['forbidden', 'tenant_mismatch'],
  404: ['not_found'],
  405: ['method_not_allowed'],
  409: ['conflict'],
  413: ['payload_too_large'],
  414: ['bad_request'],
  415: ['unsupported_media_type'],
  429: ['rate_limited'],
  431: ['bad_request'],
};
const LEAK = /\bat [\w.<>]+ \(|\.[jt]s:\d+|node_modules|\/work\/|file:\/\/|\bstack\b|FST_|statusCode|Prisma|SELECT |INSERT |UPDATE |invalid input syntax|violates|\bpg_|TypeError|RangeError|SyntaxError|Unexpected token/i;

function check(c: Case, r: Reply): void {
  const what = `${c.label}: ${c.method} ${c.path.slice(0, 120)} -> ${r.status} ${r.text.slice(0, 300)}`;
  stats.requests++;
  stats.byStatus.set(r.status, (stats.byStatus.get(r.status) ?? 0) + 1);
  assert.ok(r.status < 500, `no 5xx: ${what}`);
  assert.ok(r.status in CODES || [200, 201, 202].includes(r.status), `a documented status: ${what}`);
  if (c.expect) assert.ok(c.expect.includes(r.status), `expected one of ${c.expect.join('/')}: ${what}`);
  if (c.reject) assert.ok(r.status >= 400, `wrong input is refused: ${what}`);

  // Headers every answer carries, the parser's refusals included.
  const h = (name: string) => r.headers.get(name);
  assert.is(h('x-content-type-options'), 'nosniff', what);
  assert.is(h('x-frame-options'), 'DENY', what);
  assert.is(h('referrer-policy'), 'no-referrer', what);
  assert.ok(h('content-security-policy'), `CSP: ${what}`);
  assert.is(h('cross-origin-opener-policy'), 'same-origin', what);
  assert.is(h('cross-origin-resource-policy'), 'same-origin', what);
  assert.ok(h('permissions-policy'), `Permissions-Policy: ${what}`);
  assert.ok(h('strict-transport-security'), `HSTS (TLS_ENABLED): ${what}`);
  assert.not.ok(h('x-powered-by'), what);
  const requestId = h('x-request-id') ?? '';
  assert.match(requestId, REQUEST_ID, `a request id: ${what}`);
  const sent = c.headers['x-request-id'];
  if (!c.raw && sent !== undefined) {
    if (REQUEST_ID.test(sent)) assert.is(requestId, sent, `a valid X-Request-Id is kept: ${what}`);
    else assert.match(requestId, UUID, `an invalid X-Request-Id is replaced: ${what}`);
  }

  if (r.status >= 400) {
    assert.match(h('content-type') ?? '', /^application\/json/, `JSON errors: ${what}`);
    let body: { error?: { code?: unknown; message?: unknown; fields?: unknown } } = {};
    try {
      body = JSON.parse(r.text) as typeof body;
    } catch {
      assert.unreachable(`the error is JSON: ${what}`);
    }
    assert.equal(Object.keys(body), ['error'], what);
    const e = body.error!;
    const allowed = c.path.startsWith('/admin/queues') ? ['code', 'message', 'fields', 'key', 'options'] : ['code', 'message', 'fields'];
    assert.ok(Object.keys(e).every((k) => allowed.includes(k)), `only the documented keys: ${what}`);
    assert.ok(typeof e.code === 'string' && e.code.length > 0, `a code: ${what}`);
    assert.ok(typeof e.message === 'string' && e.message.length > 0, `a message: ${what}`);
    assert.ok(CODES[r.status]!.includes(e.code as string), `the code of a ${r.status}: ${what}`);
    if (e.code === 'validation_failed') {
      assert.ok(Array.isArray(e.fields) && e.fields.length > 0, `fields name what is wrong: ${what}`);
      for (const f of e.fields as Array<{ path: unknown; message: unknown }>) {
        assert.type(f.path, 'string', what);
        assert.ok(typeof f.message === 'string' && f.message.length > 0, what);
      }
    } else assert.is(e.fields, undefined, `fields only with validation_failed: ${what}`);
    assert.not.match(r.text, LEAK, `nothing of a stack, file or SQL: ${what}`);
    if (r.status === 401) assert.ok(h('www-authenticate'), `401 carries WWW-Authenticate: ${what}`);
    if (r.status === 429) assert.ok(h('retry-after'), `429 carries Retry-After: ${what}`);
    refusedIds.add(requestId);
    // The key guard's own words: only it answers these.
    {
      if (e.code === 'forbidden' || (e.code === 'unauthenticated' && e.message === 'the API key is not valid')) keyDenied.add(requestId);
      if (e.code === 'unauthenticated' && e.message !== 'the API key is not valid') keyMissing.add(requestId);
    }
    if (c.operatorWrong && r.status === 401) operatorDenied.add(requestId);
  } else if (c.kind) {
    accepted.push({ c, requestId, body: JSON.parse(r.text) as Record<string, unknown> });
  }
}

// ---------------------------------------------------------------- input generators
const HUGE = [300, 5000, 70_000, BODY_LIMIT + 1000];
const BAD_UTF8 = [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82]].map((b) => Buffer.from(b));
const UNSTORABLE = ['a\u0000b', '\u0000', '\ud800', 'x\udfffy', '\ud83d', 'ok\ud800\u0000'];
const ODD_NUMBERS: Array<[text: string, valid: boolean]> = [
  ['1e400', false], ['-1e400', false], ['-0', true], ['1e-400', true], ['9007199254740993', true], ['"NaN"', false], ['"Infinity"', false],
  ['NaN', false], ['Infinity', false], ['0x10', false], ['01', false], ['.5', false], ['1.0', true], ['+1', false], ['1e2', true], ['"1"', false],
];
const ODD_INSTANTS: Array<[value: unknown, valid: boolean]> = [
  ['0000-01-01T00:00:00Z', false], ['0001-01-01T00:00:00+01:00', false], ['9999-12-31T23:59:59-05:00', false], ['0001-01-01T00:00:00Z', true],
  ['9999-12-31T23:59:59.999Z', true], ['2026-02-30T00:00:00Z', false], ['2026-01-01T00:00:00', false], ['2026-01-01', false], [1767225600000, false],
  ['+275760-09-13T00:00:00Z', false], ['2026-01-01T00:00:00.123456789+14:00', true], ['1970-01-01T00:00:00-00:00', true],
];
const WRONG_TYPES: unknown[] = [123, -1, 0, true, false, null, [], {}, [1, 'x'], { a: 1 }, '', 'str', 1.5, [[[]]]];
const CONTENT_TYPES: Array<[type: string | undefined, json: boolean | undefined]> = [
  ['text/plain', false], ['application/x-www-form-urlencoded', false], ['multipart/form-data; boundary=x', false], ['application/xml', false],
  ['application/jsonp', false], ['application/vnd.api+json', false], ['text/json', false], ['*/*', false], [undefined, false],
  ['', undefined], ['APPLICATION/JSON', undefined], ['application/json; charset=utf-16', undefined], ['application/json;;', undefined], ['application/json; charset=utf-8', true],
];

interface BodyRoute {
  name: string;
  method: string;
  path: string | (() => string);
  kind: NonNullable<Case['kind']>;
  key: () => string | undefined;
  base: () => Record<string, unknown>;
  required: string[];
  /** Fields holding text that would be stored (NUL and lone surrogates must be refused there). */
  stored: string[];
  numeric: string[];
  fields: string[];
}

const auditEntry = () => ({ actorType: 'user', actorId: `u-${word(4)}`, action: 'task:completed', resourceType: 'task', resourceId: `t-${word(4)}`, metadata: { k: 'v', n: 1 }, reason: 'fuzz', confidence: 0.5 });
const AUDIT_FIELDS = ['actorType', 'actorId', 'action', 'resourceType', 'resourceId', 'metadata', 'reason', 'confidence', 'occurredAt', 'eventId', 'severity', 'ip', 'userAgent', 'before', 'after', 'tenantId', 'requestId'];
const AUDIT_STORED = ['actorId', 'resourceId', 'reason', 'userAgent', 'requestId', 'resourceType', 'metadata.k', 'before.x', 'after.x'];

const BODY_ROUTES: BodyRoute[] = [
  { name: 'audit', method: 'POST', path: '/v1/audit', kind: 'audit', key: () => keys.writer, base: auditEntry, required: ['actorType', 'action', 'resourceType'], stored: AUDIT_STORED, numeric: ['confidence', 'metadata.n'], fields: AUDIT_FIELDS },
  {
    name: 'batch', method: 'POST', path: '/v1/audit/batch', kind: 'batch', key: () => pick([keys.writer, t.a.adminKey]),
    base: () => ({ entries: [auditEntry(), auditEntry(), auditEntry()] }), required: ['entries', 'entries.1.actorType', 'entries.0.action'],
    stored: AUDIT_STORED.map((f) => `entries.${int(3)}.${f}`), numeric: ['entries.2.confidence'], fields: ['entries', ...AUDIT_FIELDS.map((f) => `entries.1.${f}`)],
  },
  {
    name: 'alert', method: 'POST', path: '/v1/alerts', kind: 'alert', key: () => pick([keys.alerter, t.a.adminKey]),
    base: () => ({ type: 'disk.full', severity: pick(['info', 'warning', 'high', 'critical']), title: `Disk ${word(4)}`, body: 'db-1 is at 93%', labels: { host: 'db-1' }, groupKey: `g-${word(3)}`, userId: 'u-1', details: { pct: 93 } }),
    required: ['type', 'severity', 'title'], stored: ['title', 'body', 'groupKey', 'userId', 'labels.host', 'details.x'], numeric: ['details.pct'],
    fields: ['type', 'severity', 'title', 'body', 'labels', 'groupKey', 'userId', 'runbookUrl', 'occurredAt', 'details', 'id', 'source', 'tenantId', 'requestId'],
  },
  {
    name: 'channel', method: 'POST', path: '/v1/channels', kind: 'channel', key: () => t.c.adminKey,
    base: () => (chance(0.5)
      ? { name: `ch-${word(6)}`, type: 'webhook', target: 'https://hooks.example.com/bulwark', secretRef: 'secret://hook', severities: ['high', 'critical'] }
      : { name: `ch-${word(6)}`, type: 'slack', target: '#ops', secretRef: 'secret://hook', severities: ['critical'] }),
    required: ['name', 'type', 'target', 'secretRef'], stored: ['name', 'target'], numeric: [], fields: ['name', 'type', 'target', 'secretRef', 'severities', 'tenantId', 'enabled', 'requestId'],
  },
  {
    name: 'settings', method: 'PATCH', path: '/v1/settings', kind: 'settings', key: () => t.s.adminKey,
    base: () => ({ alerts: { maxPerWindow: 20 + int(50), quietHours: { start: '22:00' } }, retention: { defaultDays: 90 } }),
    required: [], stored: ['alerts.quietHours.start', 'alerts.quietHours.mode'],
    numeric: ['alerts.maxPerWindow', 'alerts.cooldownSeconds', 'retention.defaultDays', 'api.windowSeconds', 'alerts.userThrottle.limit'],
    fields: ['alerts', 'api', 'retention', 'alerts.maxPerWindow', 'alerts.quietHours', 'alerts.quietHours.enabled', 'retention.securityDays', 'api.windowSeconds'],
  },
  {
    name: 'tenant', method: 'POST', path: '/v1/tenants', kind: 'tenant', key: () => undefined,
    base: () => ({ name: `fz-${word(8)}`, timezone: pick(['UTC', 'Europe/Berlin', 'America/New_York']) }), required: ['name'], stored: ['name', 'timezone'], numeric: [], fields: ['name', 'timezone'],
  },
];

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = obj as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}
function deletePath(obj: Record<string, unknown>, path: string): void {
  const parts = path.split('.');
  let node = obj as Record<string, unknown> | undefined;
  for (const p of parts.slice(0, -1)) node = node?.[p] as Record<string, unknown> | undefined;
  if (node) delete node[parts[parts.length - 1]!];
}
/** The body's JSON with `@@X@@` (a string value) replaced by raw JSON text. */
const withRaw = (obj: Record<string, unknown>, raw: string) => JSON.stringify(obj).replace('"@@X@@"', raw);
const nested = (depth: number) => { let s = '1'; for (let i = 0; i < depth; i++) s = i % 2 ? `{"d":${s}}` : `[${s}]`; return s; };

interface BodyVariant { label: string; body?: Buffer; contentType?: string | undefined; reject?: boolean; expect?: number[] }

/** One malformed (or, now and then, valid) body for `route`. */
function bodyVariant(route: BodyRoute): BodyVariant {
  const base = route.base();
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  const field = () => pick(route.fields);
  switch (int(19)) {
    case 0: {
      const f = field();
      const v = pick(WRONG_TYPES);
      setPath(base, f, v);
      return { label: `wrong type ${f}=${JSON.stringify(v)}`, body: json(base) };
    }
    case 1: {
      if (route.required.length === 0) return { label: 'non-object root', body: Buffer.from(pick(['null', '"x"', '42', 'true', '[]'])), reject: true };
      const f = pick(route.required);
      deletePath(base, f);
      return { label: `missing ${f}`, body: json(base), reject: true };
    }
    case 2: {
      const f = `x_${word(5)}`;
      const where = route.name === 'batch' ? pick(['', 'entries.0.']) : route.name === 'settings' ? pick(['', 'alerts.', 'api.']) : '';
      setPath(base, `${where}${f}`, pick(WRONG_TYPES));
      return { label: `extra field ${where}${f}`, body: json(base), reject: true };
    }
    case 3: {
      const f = pick([...route.stored, ...route.fields]);
      const n = pick(HUGE);
      setPath(base, f, 'x'.repeat(n));
      return { label: `huge string ${f} (${n})`, body: json(base), ...(n > BODY_LIMIT ? { reject: true, expect: [413] } : {}) };
    }
    case 4: {
      const f = pick([...route.stored, ...route.fields]);
      const depth = pick([33, 40, 1000, 20_000]);
      setPath(base, f, '@@X@@');
      // POST /v1/alerts ignores a requestId in the body, whatever it holds (docs/api.md).
      return { label: `nested ${depth} deep at ${f}`, body: Buffer.from(withRaw(base, nested(depth))), reject: !(route.name === 'alert' && f === 'requestId') };
    }
    case 5: {
      if (chance(0.5)) return { label: 'array for the body', body: json([base]), reject: true };
      const f = pick(route.fields.filter((x) => x !== 'entries') );
      setPath(base, f, [base[f] ?? 1]);
      return { label: `array for ${f}`, body: json(base) };
    }
    case 6: {
      const where = pick(['', ...route.fields.filter((f) => /metadata|details|labels|alerts|before|after|entries/.test(f))]);
      const key = pick(['"__proto__":{"polluted":true}', '"\\u005f_proto__":1', '"constructor":{"prototype":{"polluted":true}}', '"__proto__":null']);
      const raw = where === '' ? JSON.stringify(base).replace(/^\{/, `{${key},`) : (setPath(base, where, '@@X@@'), withRaw(base, `{${key}}`));
      return { label: `prototype key ${key} at ${where || 'top'}`, body: Buffer.from(raw), reject: true, expect: [400] };
    }
    case 7: {
      const f = pick(route.stored);
      const v = pick(UNSTORABLE);
      if (chance(0.3)) {
        // In a key instead of a value.
        const parent = f.includes('.') ? f.slice(0, f.lastIndexOf('.')) : '';
        setPath(base, parent ? `${parent}.${v}` : v, 'v');
        return { label: `unstorable key under ${parent || 'top'}: ${JSON.stringify(v)}`, body: json(base), reject: true };
      }
      setPath(base, f, v);
      return { label: `unstorable ${f}=${JSON.stringify(v)}`, body: json(base), reject: true };
    }
    case 8: {
      const f = pick(route.stored);
      setPath(base, f, '@@X@@');
      const [head, tail] = JSON.stringify(base).split('@@X@@') as [string, string];
      const bad = pick(BAD_UTF8);
      return { label: `invalid UTF-8 ${bad.toString('hex')} in ${f}`, body: Buffer.concat([Buffer.from(head), bad, Buffer.from(tail)]), reject: true, expect: [400] };
    }
    case 9: {
      if (route.numeric.length === 0) return { label: 'empty body', body: Buffer.alloc(0), reject: true, expect: [400] };
      const f = pick(route.numeric);
      const [text, valid] = pick(ODD_NUMBERS);
      setPath(base, f, '@@X@@');
      // In free-form JSON (metadata, details) a string is as good as a number.
      const ok = valid || (/^(metadata|details)\./.test(f) && text.startsWith('"'));
      return { label: `number ${text} at ${f}`, body: Buffer.from(withRaw(base, text)), ...(ok ? {} : { reject: true }) };
    }
    case 10: {
      const [type, isJson] = pick(CONTENT_TYPES);
      return { label: `content type ${JSON.stringify(type)}`, body: json(base), contentType: type, ...(isJson === false ? { reject: true, expect: [415] } : {}) };
    }
    case 11:
      return { label: 'empty body', body: Buffer.alloc(0), reject: true, expect: [400] };
    case 12: {
      const text = JSON.stringify(base);
      const at = 1 + int(text.length - 2);
      return { label: `truncated at ${at}`, body: Buffer.from(text.slice(0, at)), reject: true, expect: [400] };
    }
    case 13: {
      // Duplicate keys: JSON.parse keeps the last; either way no 5xx and no half write.
      const f = pick(route.required.length ? route.required.filter((r) => !r.includes('.')) : ['alerts']);
      const first = pick(WRONG_TYPES);
      const text = JSON.stringify(base).replace(/^\{/, `{${JSON.stringify(f)}:${JSON.stringify(first)},`);
      return { label: `duplicate key ${f}`, body: Buffer.from(chance(0.5) ? text : text.replace(/\}$/, `,${JSON.stringify(f)}:${JSON.stringify(first)}}`)) };
    }
    case 14: {
      const other = chance(0.5) ? t.b.id : pick(['not-a-uuid', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '', 42, null]);
      setPath(base, route.name === 'batch' ? 'entries.2.tenantId' : 'tenantId', other);
      return { label: `tenantId ${JSON.stringify(other)}`, body: json(base), reject: true, expect: route.name === 'tenant' || route.name === 'settings' ? [400] : [400, 403] };
    }
    case 15:
      return { label: 'BOM before the JSON', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(base)]), reject: true, expect: [400] };
    case 16:
      return { label: 'raw control character in a string', body: Buffer.from(JSON.stringify(base).replace(/":"/, '":"\u0001')), reject: true, expect: [400] };
    case 17: {
      // Instants at and past what Postgres stores (it has no year 0).
      const f = route.name === 'batch' ? 'entries.0.occurredAt' : 'occurredAt';
      const [v, valid] = pick(ODD_INSTANTS);
      setPath(base, f, v);
      const takes = ['audit', 'batch', 'alert'].includes(route.name);
      return { label: `occurredAt ${JSON.stringify(v)}`, body: json(base), ...(takes && valid ? {} : { reject: true }), ...(takes && !valid ? { expect: [400] } : {}) };
    }
    default:
      return { label: 'valid body', body: chance(0.5) ? json(base) : Buffer.from(` \n${JSON.stringify(base, null, 2)}\n `) };
  }
}

/** Authorization shapes for /v1 key routes: [label, headers, good (the route's own valid key)]. */
function keyAuth(route: { key: () => string | undefined }): [string, Record<string, string>, boolean] {
  const good = route.key()!;
  const n = int(100);
  if (n < 55) return ['valid key', { authorization: `Bearer ${good}` }, true];
  if (n < 60) return ['valid key in X-API-Key', { 'x-api-key': ` ${good} ` }, true];
  const bad: Array<[string, Record<string, string>]> = [
    ['no key', {}],
    ['Bearer alone', { authorization: 'Bearer' }],
    ['Bearer and spaces', { authorization: 'Bearer    ' }],
    ['lower-case scheme', { authorization: `bearer ${good}` }],
    ['Basic for a key route', { authorization: basic('ops', 'x') }],
    ['garbage after bwk_', { authorization: `Bearer bwk_${word(12)}!` }],
    ['key-shaped unknown key', { authorization: `Bearer bwk_${b64url(43)}` }],
    ['a 6000-character key', { authorization: `Bearer bwk_${'A'.repeat(6000)}` }],
    ['not a key at all', { authorization: `Bearer ${word(30)}` }],
    ['key with a suffix', { authorization: `Bearer ${good}x` }],
    ['empty X-API-Key', { 'x-api-key': '' }],
    ['revoked key', { authorization: `Bearer ${keys.revoked}` }],
    ['reader key (wrong scope)', { authorization: `Bearer ${keys.reader}` }],
    ['Token scheme', { authorization: `Token ${good}` }],
    ['unknown Bearer, valid X-API-Key', { authorization: `Bearer bwk_${b64url(43)}`, 'x-api-key': good }],
    // From loopback, a trusted proxy here: whatever it forwards, the denial is a 401 and audited.
    ['unknown key, junk X-Forwarded-For', { authorization: `Bearer bwk_${b64url(43)}`, 'x-forwarded-for': pick(['garbage', '999.1.1.1', 'fe80::1%eth0', '1.2.3.4, junk', '[::1]', '', ',,']) }],
  ];
  const [label, headers] = pick(bad);
  return [label, headers, false];
}

function requestIdHeader(): Record<string, string> {
  const n = int(100);
  if (n < 80) return { 'x-request-id': `fz-${word(10)}` };
  return { 'x-request-id': pick(['', ' ', `${'a'.repeat(118)}${word(10)}`, 'b'.repeat(129), 'has space', '../../etc/passwd', `ok-id_1.2:3-${word(6)}`, '<script>', 'x,y', '%00', '\u00fc', '\u00e9t\u00e9']) };
}

/** X-Forwarded-For for a wrong operator attempt: a fresh address each time, so no lockout builds up. */
const freshAddress = () => `10.${1 + int(250)}.${int(256)}.${1 + int(250)}`;

function operatorAuth(): [string, Record<string, string>, boolean] {
  const ok = basic(OPERATOR.username, OPERATOR.password);
  if (chance(0.6)) return ['operator', { authorization: ok }, false];
  const wrong: Array<[string, string | undefined]> = [
    ['no credentials', undefined],
    ['wrong password', basic(OPERATOR.username, 'nope')],
    ['Basic alone', 'Basic'],
    ['Basic not base64', 'Basic !!!***'],
    ['no colon', `Basic ${Buffer.from('opsoperator').toString('base64')}`],
    ['only a colon', `Basic ${Buffer.from(':').toString('base64')}`],
    ['empty password', basic(OPERATOR.username, '')],
    ['10 KB of credentials', `Basic ${Buffer.from(`ops:${'p'.repeat(7000)}`).toString('base64')}`],
    ['lower-case scheme', `basic ${ok.slice(6)}`],
    ['Bearer with the password', `Bearer ${OPERATOR.password}`],
    ['an admin API key', `Bearer ${t.a.adminKey}`],
    ['NUL in the decoded credentials', `Basic ${Buffer.from('ops\u0000:x').toString('base64')}`],
  ];
  const [label, value] = pick(wrong);
  return [label, { 'x-forwarded-for': freshAddress(), ...(value ? { authorization: value } : {}) }, value?.startsWith('Basic ') ?? false];
}

function bodyCase(route: BodyRoute): Case {
  const v = bodyVariant(route);
  const path = typeof route.path === 'string' ? route.path : route.path();
  let auth: [string, Record<string, string>, boolean];
  if (route.name === 'tenant') auth = operatorAuth();
  else auth = keyAuth(route);
  const [authLabel, authHeaders, good] = auth;
  const operatorWrong = route.name === 'tenant' && authLabel !== 'operator' && auth[2];
  const isGood = route.name === 'tenant' ? authLabel === 'operator' : good;
  const headers: Record<string, string> = { ...requestIdHeader(), ...authHeaders };
  const type = 'contentType' in v ? v.contentType : 'application/json';
  if (type !== undefined) headers['content-type'] = type;
  // A refused key (or operator) is answered before the body is read; only then does the variant's expectation hold.
  return {
    label: `${route.name} [${authLabel}] ${v.label}`,
    method: route.method,
    path,
    headers,
    body: v.body,
    reject: isGood ? v.reject : true,
    ...(isGood && v.expect ? { expect: v.expect } : {}),
    operatorWrong,
    kind: route.kind,
  };
}

// GET routes with queries, routes without, path ids.
const BAD_QUERY_VALUES = ['', '%00', 'a%00b', '%ED%A0%80', '%FF', 'x'.repeat(5000), '%2F..%2F', '1%', '-1', '0', '1e2', '0x10', ' 5', 'Infinity', 'NaN', `1${'0'.repeat(400)}`, '%E2%80%AE', 'null', '[]', '{}'];
const AUDIT_QUERY: Record<string, string[]> = {
  limit: ['1', '200', '201', '1.5', '-0', '00005'],
  cursor: ['9999999999999999999', '9223372036854775807', '9223372036854775808', '1', '0', '-1', 'abc', '1|x'],
  action: ['task:completed', 'x'.repeat(101)],
  actorType: ['user', 'robot', 'USER'],
  actorId: ['u-1', 'x'.repeat(256)],
  resourceType: ['task'],
  resourceId: ['t-1'],
  since: ['2026-11-26T00:00:00Z', '2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '+275760-09-13T00:00:00Z', '2026-01-01T00:00:00%2B23:59', 'yesterday'],
  until: ['2026-11-27T00:00:00Z', '1970-01-01T00:00:00Z', '2026-11-26T00:00:00'],
};
const ALERT_QUERY: Record<string, string[]> = {
  limit: ['1', '500', '501'],
  outcome: ['delivered', 'DELIVERED', 'lost'],
  since: AUDIT_QUERY.since!,
  cursor: ['99999999999999999999|00000000-0000-0000-0000-000000000000', '1|------------------------------------', `${Date.now()}|ffffffff-ffff-ffff-ffff-ffffffffffff`, '0|00000000-0000-0000-0000-00000000000g', '8640000000000001|00000000-0000-4000-8000-000000000000', '1|2'],
};

function queryString(known: Record<string, string[]>): string {
  const parts: string[] = [];
  const n = 1 + int(3);
  for (let i = 0; i < n; i++) {
    const r = int(10);
    const name = r < 6 ? pick(Object.keys(known)) : r < 8 ? pick(['colour', 'tenantId', 'LIMIT', 'limit[]', '__proto__', 'constructor', '%00', '', 'a%ED%A0%80']) : pick(Object.keys(known));
    const value = chance(0.6) && known[name] ? pick(known[name]!) : pick(BAD_QUERY_VALUES);
    parts.push(chance(0.1) ? name : `${name}=${value}`);
    if (chance(0.15)) parts.push(`${name}=${value}`); // repeated
  }
  return `?${parts.join(pick(['&', '&', '&&', ';']))}`;
}

function queryCase(): Case {
  const routes: Array<[string, Record<string, string[]> | undefined, () => string]> = [
    ['/v1/audit', AUDIT_QUERY, () => pick([keys.reader, t.a.adminKey])],
    ['/v1/alerts', ALERT_QUERY, () => t.a.adminKey],
    ['/v1/settings', undefined, () => t.s.adminKey],
    ['/v1/channels', undefined, () => t.c.adminKey],
  ];
  const [path, known, key] = pick(routes);
  const [authLabel, authHeaders] = chance(0.85) ? ['valid key', { authorization: `Bearer ${key()}` }] : keyAuth({ key });
  return { label: `GET ${path} [${authLabel}] query`, method: 'GET', path: `${path}${chance(0.1) ? '' : queryString(known ?? { x: ['1'], limit: ['1'] })}`, headers: { ...requestIdHeader(), ...authHeaders } };
}

const PATH_IDS = [
  '00000000-0000-0000-0000-000000000000', 'not-a-uuid', 'x'.repeat(100), 'x'.repeat(101), 'y'.repeat(5000), '%00', 'a%00', '%2F', '..', '%2E%2E', '%ED%A0%80', '%FF', '%C3',
  '%F0%9F%98%80', 'a%20b', 'ch-nothere', '__proto__', 'constructor', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'FFFFFFFF-0000-0000-0000-000000000000', '%25', '*', 'a;b', 'a?b=1',
];

function pathCase(): Case {
  const id = pick(PATH_IDS);
  const headers = { ...requestIdHeader(), authorization: `Bearer ${chance(0.8) ? t.c.adminKey : keys.writer}` };
  const r = int(10);
  if (r < 5) return { label: `DELETE channel id ${id.slice(0, 40)}`, method: 'DELETE', path: `/v1/channels/${id}`, headers, kind: 'channel-delete' };
  const other: Array<[string, string]> = [
    ['GET', `/v1/channels/${id}`], ['GET', `/v1/audit/${id}`], ['GET', `/v1/alerts/${id}`], ['DELETE', `/v1/tenants/${id}`], ['GET', `/v1/apikeys/${id}`],
    ['POST', '/v1/apikeys'], ['GET', '/v1/api-keys'], ['PUT', '/v1/audit'], ['DELETE', '/v1/settings'], ['POST', '/v1/settings'], ['GET', '/v1/tenants'],
    ['GET', '/v1//audit'], ['GET', '/v1/audit/'], ['GET', '/V1/AUDIT'], ['OPTIONS', '/v1/audit'], ['PATCH', '/v1/channels'], ['GET', `/v1/${id}`], ['GET', `/${id}`],
    ['POST', '/v1/audit/batch/extra'], ['GET', '/v1/audit%2Fbatch'],
  ];
  const [method, path] = pick(other);
  return { label: `${method} ${path.slice(0, 40)}`, method, path, headers, ...(method === 'POST' || method === 'PUT' ? { body: Buffer.from('{}') } : {}), expect: [400, 401, 403, 404, 405, 414] };
}

function operatorSurfaceCase(): Case {
  const [authLabel, auth, wrong] = operatorAuth();
  const paths: Array<[string, string, number[]]> = [
    ['GET', '/admin/queues', [200, 401, 429]],
    ['GET', '/admin/queues/', [200, 401, 429]],
    ['GET', `/admin/queues/api/queues?activeQueue=${pick([AUDIT_WRITE_QUEUE, 'nope', '%00', 'x'.repeat(500)])}&status=${pick(['failed', 'latest', 'bogus', ''])}&page=${pick(['1', '-1', 'x', '1e9'])}`, [200, 400, 401, 404, 429]],
    ['GET', `/admin/queues/api/queues/${pick(['nope', AUDIT_WRITE_QUEUE, '%00', 'x'.repeat(101)])}/${pick(['1', '%FF', 'nope'])}/logs`, [200, 400, 401, 404, 414, 429]],
    ['PUT', `/admin/queues/api/queues/${pick(['nope', AUDIT_WRITE_QUEUE])}/retry/failed`, [400, 401, 404, 405, 429]],
    ['PUT', `/admin/queues/api/queues/${AUDIT_WRITE_QUEUE}/clean/${pick(['completed', 'bogus'])}`, [400, 401, 404, 405, 429]],
    ['GET', '/healthz', [200]],
    ['GET', `/healthz?${word(3)}=%00&x=1&x=2`, [200]],
    ['HEAD', '/healthz', [200]],
    ['POST', '/healthz', [404]],
    ['GET', '/readyz', [200]],
    ['GET', '/metrics', [200]],
    ['DELETE', '/metrics', [404]],
  ];
  const [method, path, expect] = pick(paths);
  const onBoard = path.startsWith('/admin/queues');
  return {
    label: `${method} ${path.slice(0, 60)} [${authLabel}]`, method, path, headers: { ...requestIdHeader(), ...(onBoard ? auth : chance(0.5) ? { authorization: pick(['Bearer x', 'Basic', basic('a', 'b')]) } : {}) },
    expect, operatorWrong: onBoard && wrong,
  };
}

/** Bytes fetch cannot send, through a socket of their own. */
function rawCases(): Case[] {
  const host = 'Host: 127.0.0.1\r\nConnection: close\r\n';
  const audit = JSON.stringify(auditEntry());
  const rawCase = (label: string, text: string | Buffer, expect?: number[]): Case => ({ label: `raw: ${label}`, method: 'RAW', path: '(raw)', headers: {}, raw: Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'), ...(expect ? { expect } : {}) });
  return [
    rawCase('request line garbage', 'GARBAGE\r\n\r\n', [400]),
    rawCase('unknown method', `FOO /v1/audit HTTP/1.1\r\n${host}\r\n`, [400]),
    rawCase('NUL in a header value', `GET /v1/audit HTTP/1.1\r\n${host}X-API-Key: bwk_\u0000abc\r\n\r\n`, [400]),
    rawCase('a 20 KB header', `GET /v1/audit HTTP/1.1\r\n${host}X-Pad: ${'p'.repeat(20_000)}\r\n\r\n`, [431]),
    rawCase('Content-Length and Transfer-Encoding', `POST /v1/audit HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, [400]),
    rawCase('bad chunk size', `POST /v1/audit HTTP/1.1\r\n${host}Authorization: Bearer ${keys.writer}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`, [400]),
    rawCase('non-Latin-1 bytes in X-API-Key', Buffer.concat([Buffer.from(`GET /v1/audit HTTP/1.1\r\n${host}X-API-Key: bwk_`), Buffer.from('ÿÿÿÿé€😀', 'utf8'), Buffer.from('\r\n\r\n')]), [400, 401]),
    rawCase('two Authorization headers, the first bad', `GET /v1/audit HTTP/1.1\r\n${host}Authorization: Bearer nope\r\nAuthorization: Bearer ${keys.reader}\r\n\r\n`, [200, 400, 401]),
    rawCase('two X-Request-Id headers', `GET /healthz HTTP/1.1\r\n${host}X-Request-Id: a\r\nX-Request-Id: b\r\n\r\n`, [200]),
    rawCase('two Content-Type headers', `POST /v1/audit HTTP/1.1\r\n${host}Authorization: Bearer ${keys.writer}\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: ${audit.length}\r\n\r\n${audit}`, [202, 400, 415]),
    rawCase('absolute URL in the request line', `GET http://evil.example/v1/audit HTTP/1.1\r\n${host}\r\n`, [400, 401, 404]),
    rawCase('raw UTF-8 in the path', Buffer.concat([Buffer.from('GET /v1/channels/'), Buffer.from('ä€', 'utf8'), Buffer.from(` HTTP/1.1\r\n${host}Authorization: Bearer ${t.c.adminKey}\r\n\r\n`)]), [400, 404]),
    rawCase('a space in the path', `GET /v1/au dit HTTP/1.1\r\n${host}\r\n`, [400]),
    rawCase('HTTP/1.0 without Host', 'GET /healthz HTTP/1.0\r\n\r\n', [200, 400]),
    rawCase('HTTP/9.9', `GET /healthz HTTP/9.9\r\n${host}\r\n`, [400, 505]),
    rawCase('TRACE', `TRACE /v1/audit HTTP/1.1\r\n${host}\r\n`, [404, 405]),
    rawCase('header name with a space', `GET /healthz HTTP/1.1\r\n${host}Bad Header: x\r\n\r\n`, [400]),
    rawCase('body longer than nothing on a GET', `GET /v1/audit HTTP/1.1\r\n${host}Authorization: Bearer ${keys.reader}\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":`, [200, 400]),
  ];
}

// ---------------------------------------------------------------- the run
test(`a few hundred malformed requests across every route (seed ${SEED}): documented 4xx in the documented shape, never a 5xx`, async () => {
  const started = Date.now();
  fuzzStart = ((await superuserQuery(api.db.url, 'SELECT now() AS now')).rows[0] as { now: Date }).now;
  const cases: Case[] = [];
  for (let i = 0; i < 360; i++) {
    const r = int(100);
    if (r < 62) cases.push(bodyCase(pick(BODY_ROUTES)));
    else if (r < 78) cases.push(queryCase());
    else if (r < 88) cases.push(pathCase());
    else cases.push(operatorSurfaceCase());
  }
  cases.push(...rawCases());
  const failures: string[] = [];
  for (const c of cases) {
    let reply: Reply;
    try {
      reply = await send(c);
    } catch (err) {
      throw new Error(`${c.label}: ${c.method} ${c.path.slice(0, 120)} got no answer: ${(err as Error).message}`);
    }
    // Every failing case is reported, not only the first.
    try {
      check(c, reply);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  assert.ok(failures.length === 0, `${failures.length} of ${cases.length} cases failed:\n${failures.slice(0, 40).join('\n')}`);
  console.log(`api-fuzz: ${stats.requests} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort(([a], [b]) => a - b)))}`);
  // The run reached the routes' own checks, not only the guards.
  for (const status of [200, 202, 400, 401, 403, 404, 413, 415]) assert.ok(stats.byStatus.has(status), `some answers were ${status}`);
  assert.not.ok(api.logs.events().some((e) => e.event === 'http_internal_error' || (e.level as number) >= 50), `no error logged: ${api.logs.events().filter((e) => (e.level as number) >= 50).map((e) => JSON.stringify(e)).slice(0, 3).join('\n')}`);
});

test('nothing was half written: refused requests left only the documented denial entries; accepted ones landed whole; no job failed', async () => {
  for (const q of queues) await queueIdle(q);
  const sql = async <R>(text: string, params: unknown[] = []) => (await superuserQuery(api.db.url, text, params)).rows as R[];
  const ids = (rows: Array<{ request_id: string | null }>) => new Set(rows.map((r) => r.request_id));

  // No job failed or is waiting for a retry: a 202 whose job cannot be written is a half write.
  for (const q of queues) {
    const failed = await q.getFailed();
    assert.is(failed.length, 0, `failed ${q.name} jobs: ${failed.map((j) => j.failedReason).slice(0, 3).join(' | ')}`);
    const retrying = (await q.getDelayed()).filter((j) => j.attemptsMade > 0);
    assert.is(retrying.length, 0, `${q.name} jobs retrying: ${retrying.map((j) => j.failedReason).slice(0, 3).join(' | ')}`);
  }

  // Every refused request: no row but the denials the docs promise.
  const refused = [...refusedIds];
  const leftovers = await sql<{ action: string; request_id: string }>(`SELECT action, request_id FROM audit_log WHERE request_id = ANY($1) AND NOT (action = ANY($2))`, [refused, DENIAL_ACTIONS]);
  assert.equal(leftovers, [], 'refused requests wrote nothing but denial entries');

  // Exactly one api-key-denied entry per refused key (none for a request without a key).
  const denied = await sql<{ request_id: string }>(`SELECT request_id FROM audit_log WHERE action = 'security:api-key-denied'`);
  assert.equal([...ids(denied)].sort(), [...keyDenied].sort(), 'an api-key-denied entry for each refused key, and only those');
  assert.is(denied.length, keyDenied.size, 'one each');
  assert.not.ok([...keyMissing].some((id) => ids(denied).has(id)), 'no entry for a request without a key');
  const opDenied = await sql<{ request_id: string }>(`SELECT request_id FROM audit_log WHERE action = 'security:operator-auth-denied'`);
  assert.equal([...ids(opDenied)].sort(), [...operatorDenied].sort(), 'an operator-auth-denied entry for each wrong Basic credential');

  // Accepted requests: each wrote what its answer says, and the fuzzed tenants hold nothing else.
  const of = (kind: Case['kind']) => accepted.filter((a) => a.c.kind === kind);
  const eventIds = [...of('audit').map((a) => a.body.eventId as string), ...of('batch').flatMap((a) => a.body.eventIds as string[])];
  const written = await sql<{ event_id: string }>(`SELECT event_id FROM audit_log WHERE tenant_id = $1 AND event_id = ANY($2)`, [t.a.id, eventIds]);
  assert.is(new Set(written.map((r) => r.event_id)).size, new Set(eventIds).size, 'every accepted audit entry is written');
  const acceptedIds = new Set(accepted.map((a) => a.requestId));
  const acceptedEvents = new Set(eventIds);
  for (const tenant of [t.a, t.s, t.c, t.b]) {
    const rows = await sql<{ action: string; request_id: string | null; event_id: string }>(
      `SELECT action, request_id, event_id FROM audit_log WHERE tenant_id = $1 AND recorded_at >= $2 AND NOT (action = ANY($3))`,
      [tenant.id, fuzzStart, DENIAL_ACTIONS],
    );
    // The audit of key use (docs/api.md, *Key use*) belongs to no single request: one
    // entry per key and clock hour, which its eventId says.
    const keyUse = rows.filter((r) => r.action === 'apikey:used');
    assert.is(new Set(keyUse.map((r) => r.event_id)).size, keyUse.length, 'one apikey:used entry per key and hour');
    for (const r of keyUse) assert.match(r.event_id, /^apikey-used:[0-9a-f-]{36}:\d{10}$/);
    const stray = rows.filter((r) => r.action !== 'apikey:used' && !(r.request_id && acceptedIds.has(r.request_id)) && !acceptedEvents.has(r.event_id));
    assert.equal(stray, [], `tenant ${tenant.id}: rows that no accepted request explains`);
  }
  const alertIds = of('alert').map((a) => a.body.alertId as string);
  // Version 8 ids are the alerts Bulwark raises itself (a denial burst of tenant A's keys).
  const ledger = await sql<{ id: string }>(`SELECT id::text FROM alert_ledger WHERE tenant_id = $1 AND substr(id::text, 15, 1) <> '8'`, [t.a.id]);
  assert.equal([...new Set(ledger.map((r) => r.id))].sort(), [...new Set(alertIds)].sort(), 'the ledger holds exactly the accepted alerts');

  const deletedNames = new Set(of('channel-delete').map((a) => (a.body.channel as { name: string }).name));
  const channelNames = of('channel').map((a) => (a.body.channel as { name: string }).name).filter((n) => !deletedNames.has(n));
  const channels = await sql<{ name: string }>(`SELECT name FROM alert_channels WHERE tenant_id = $1`, [t.c.id]);
  assert.equal(channels.map((r) => r.name).sort(), [...new Set(channelNames)].sort(), 'the channels are exactly the ones created');

  const tenantNames = of('tenant').map((a) => (a.body.tenant as { name: string }).name);
  const tenants = await sql<{ name: string }>(`SELECT name FROM tenants WHERE id <> $1 AND name NOT LIKE 'fuzz-%'`, [SYSTEM_TENANT_ID]);
  assert.equal(tenants.map((r) => r.name).sort(), [...tenantNames].sort(), 'the tenants are exactly the ones created');

  const lastPatch = of('settings').at(-1);
  const settings = (await (await api.call('GET', '/v1/settings', { key: t.s.adminKey })).json()) as { settings: unknown };
  if (lastPatch) assert.equal(settings.settings, lastPatch.body.settings, 'the settings are those of the last accepted PATCH');
  console.log(`api-fuzz: accepted ${accepted.length} writes (${eventIds.length} audit entries, ${alertIds.length} alerts, ${channelNames.length} channels, ${tenantNames.length} tenants); ${keyDenied.size} key denials, ${operatorDenied.size} operator denials checked`);
});

test.run();
