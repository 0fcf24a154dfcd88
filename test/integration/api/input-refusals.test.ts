// Input a fresh user's review found mishandled, against the real server: NUL bytes and
// lone surrogates in query strings and path parameters (were 500s from Postgres),
// malformed URLs (were Fastify's own error shape), __proto__ keys (were "not valid
// JSON"), a malformed tenantId (was 403), unknown batch fields (were accepted), and the
// wording of 413, 403 and query errors; and a last page that has no next cursor.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Scope } from '../../../lib/apikeys/keys.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { waitFor } from '../../helpers/env.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };
let writer: string;
const entry = { actorType: 'user', actorId: 'u-1', action: 'task:completed', resourceType: 'task', resourceId: 't-1' };

const keyFor = async (tenantId: string, scopes: Scope[]) =>
  (await createApiKey(api.bulwark.ctx.prisma, { tenantId, name: scopes.join('+'), scopes }, { type: 'user', id: 'test' })).key;

interface ErrorReply {
  status: number;
  headers: Headers;
  error: { code: string; message: string; fields?: Array<{ path: string; message: string }> };
}

/** The error of a response, checked to be exactly our shape: `{ error: { code, message, fields? } }`. */
async function errorOf(res: Response): Promise<ErrorReply> {
  const text = await res.text();
  const body = JSON.parse(text) as { error: ErrorReply['error'] };
  assert.equal(Object.keys(body), ['error'], text);
  assert.ok(Object.keys(body.error).every((k) => ['code', 'message', 'fields'].includes(k)), text);
  assert.not.match(text, /FST_|statusCode|\bat .*:\d+:\d+/, text);
  return { status: res.status, headers: res.headers, error: body.error };
}

const paths = (e: ErrorReply) => (e.error.fields ?? []).map((f) => f.path).sort();

test.before(async () => {
  api = await startApi({ API_BODY_LIMIT_BYTES: '4096' });
  tenant = await api.tenant('input-edges');
  writer = await keyFor(tenant.id, ['audit:write']);
});
test.after(async () => api.close());

test('a NUL byte or lone surrogate in a query value or path parameter is a 400 naming it, on every route that reads one', async () => {
  const key = tenant.adminKey;
  const cases: Array<[path: string, method: string, field: string]> = [
    ['/v1/audit?actorId=%00', 'GET', 'actorId'],
    ['/v1/audit?actorType=user&action=%00', 'GET', 'action'],
    ['/v1/audit?resourceId=a%00b', 'GET', 'resourceId'],
    ['/v1/alerts?outcome=%00', 'GET', 'outcome'],
    ['/v1/alerts?cursor=%00', 'GET', 'cursor'],
    ['/v1/channels?x=%00', 'GET', 'x'],
    ['/v1/settings?x=%00', 'GET', 'x'],
    ['/v1/channels/%00', 'DELETE', 'name'],
    ['/v1/channels/a%00', 'DELETE', 'name'],
  ];
  const from = api.logs.lines.length;
  for (const [path, method, field] of cases) {
    const e = await errorOf(await api.call(method, path, { key }));
    assert.is(e.status, 400, `${method} ${path}`);
    assert.is(e.error.code, 'validation_failed', `${method} ${path}`);
    assert.equal(paths(e), [field], `${method} ${path}`);
    assert.match(e.error.fields![0]!.message, /NUL/);
  }
  // The operator route has no query of its own, but the rule holds there too.
  const tenants = await errorOf(await api.call('POST', '/v1/tenants?x=%00', { body: { name: 'nul' }, headers: { authorization: `Basic ${Buffer.from('ops:operator-password-123').toString('base64')}` } }));
  assert.equal([tenants.status, paths(tenants)], [400, ['x']]);
  assert.not.ok(api.logs.events().slice(from).some((l) => l.level === 50 || l.event === 'http_internal_error'), 'no error logged');
  // The guard comes first: without a key the answer is 401, not a lesson on the input rules.
  assert.is((await errorOf(await api.call('GET', '/v1/audit?actorId=%00'))).status, 401);
});

test('a query parameter given twice is a 400 naming it', async () => {
  for (const path of ['/v1/audit?limit=1&limit=2', '/v1/alerts?limit=1&limit=2']) {
    const e = await errorOf(await api.call('GET', path, { key: tenant.adminKey }));
    assert.equal([e.status, e.error.code, paths(e)], [400, 'validation_failed', ['limit']], path);
    assert.match(e.error.fields![0]!.message, /more than once/);
  }
});

test('query errors are worded for the caller, not in zod\'s words', async () => {
  const fieldMessage = async (path: string) => {
    const e = await errorOf(await api.call('GET', path, { key: tenant.adminKey }));
    assert.is(e.status, 400, path);
    return e.error.fields!.map((f) => `${f.path}: ${f.message}`).join('; ');
  };
  for (const limit of ['0', '201', '1.5', 'abc', '']) assert.is(await fieldMessage(`/v1/audit?limit=${limit}`), 'limit: must be a whole number from 1 to 200', limit);
  assert.is(await fieldMessage('/v1/alerts?limit=501'), 'limit: must be a whole number from 1 to 500');
  const zone = 'must be an ISO 8601 date-time with a zone, e.g. 2026-11-26T00:00:00Z';
  assert.is(await fieldMessage('/v1/audit?since=2026-11-26T00:00:00'), `since: ${zone}`);
  assert.is(await fieldMessage('/v1/audit?until=yesterday'), `until: ${zone}`);
  assert.is(await fieldMessage('/v1/alerts?since=2026-11-26T00:00:00'), `since: ${zone}`);
  assert.is(await fieldMessage('/v1/audit?actorType=robot'), 'actorType: must be one of user, service, ai, system');
  assert.is(await fieldMessage(`/v1/audit?action=${'a'.repeat(101)}`), 'action: must be at most 100 characters');
  assert.is(await fieldMessage('/v1/audit?colour=red'), 'colour: is not a known field');
  // Zones given as Z or an offset are fine.
  assert.is((await api.call('GET', '/v1/audit?since=2026-11-26T00:00:00Z&until=2026-11-27T00:00:00%2B01:00', { key: tenant.adminKey })).status, 200);
});

test('a URL that is not UTF-8 once decoded is a 400 in the API\'s shape, with the usual headers', async () => {
  for (const path of ['/v1/channels/%ED%A0%80', '/v1/channels/%FF', '/v1/nothing/%C3']) {
    const e = await errorOf(await api.call('DELETE', path, { key: tenant.adminKey }));
    assert.equal([e.status, e.error.code], [400, 'bad_request'], path);
    assert.match(e.error.message, /URL/);
    assert.ok(e.headers.get('x-request-id'), 'the request id is echoed');
    assert.is(e.headers.get('x-content-type-options'), 'nosniff');
  }
  // A path parameter over Fastify's length limit (100): its own status, our shape.
  const long = await errorOf(await api.call('DELETE', `/v1/channels/${'a'.repeat(101)}`, { key: tenant.adminKey }));
  assert.equal([long.status, long.error.code], [414, 'bad_request'], long.error.message);
});

test('framework body errors come out in the API\'s shape with its codes', async () => {
  const post = (body: string, contentType: string) => api.call('POST', '/v1/audit', { key: writer, body, headers: { 'content-type': contentType } });
  const cases: Array<[Response, number, string]> = [
    [await post('{"broken":', 'application/json'), 400, 'invalid_json'],
    [await post('', 'application/json'), 400, 'invalid_json'],
    [await post('{}', ';;;'), 415, 'unsupported_media_type'],
    [await post('{}', 'text/plain'), 415, 'unsupported_media_type'],
  ];
  for (const [res, status, code] of cases) {
    const e = await errorOf(res);
    assert.equal([e.status, e.error.code], [status, code], e.error.message);
  }
});

test('__proto__ and constructor.prototype keys are refused as such, not as invalid JSON', async () => {
  const bodies: Array<[string, string]> = [
    [`{"__proto__":{"admin":true},"actorType":"user"}`, '__proto__'],
    [`{"metadata":{"a":{"__proto__":1}}}`, 'metadata.a.__proto__'],
    [`{"metadata":{"\\u005f_proto__":1}}`, 'metadata.__proto__'],
    [`{"metadata":{"constructor":{"prototype":{"x":1}}}}`, 'metadata.constructor'],
  ];
  for (const [body, path] of bodies) {
    const e = await errorOf(await api.call('POST', '/v1/audit', { key: writer, body }));
    assert.equal([e.status, e.error.code, paths(e)], [400, 'validation_failed', [path]], body);
    assert.match(e.error.fields![0]!.message, /__proto__/);
  }
  // A "constructor" that is plain data is an ordinary key.
  const ok = await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, metadata: { constructor: 'Acme Builders' } } });
  assert.is(ok.status, 202, await ok.text());
});

test('a malformed tenantId is a 400; only a well-formed other tenant is 403; the own id in capitals is fine', async () => {
  const single = await errorOf(await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, tenantId: 'not-uuid' } }));
  assert.equal([single.status, single.error.code, paths(single)], [400, 'validation_failed', ['tenantId']]);
  const batch = await errorOf(await api.call('POST', '/v1/audit/batch', { key: writer, body: { entries: [entry, { ...entry, tenantId: 42 }] } }));
  assert.equal([batch.status, paths(batch)], [400, ['1.tenantId']]);
  const other = await errorOf(await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, tenantId: '9b4def16-2de9-4431-a723-acbb300b5996' } }));
  assert.equal([other.status, other.error.code], [403, 'tenant_mismatch']);
  assert.is((await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, tenantId: tenant.id.toUpperCase() } })).status, 202);
});

test('POST /v1/audit/batch refuses unknown top-level fields, naming each', async () => {
  const e = await errorOf(await api.call('POST', '/v1/audit/batch', { key: writer, body: { entries: [entry], extra: 1, Entries: [] } }));
  assert.equal([e.status, e.error.code, paths(e)], [400, 'validation_failed', ['Entries', 'extra']]);
});

test('413 names the limit in bytes and the route; 403 names the scope the route needs', async () => {
  const big = await errorOf(await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, reason: 'x'.repeat(5000) } }));
  assert.equal([big.status, big.error.code], [413, 'payload_too_large']);
  assert.is(big.error.message, 'the request body is larger than the 4096-byte limit of POST /v1/audit');
  const cases: Array<[string, string, RegExp]> = [
    ['GET', '/v1/audit', /lacks the audit:read scope \(or admin\) that GET \/v1\/audit needs/],
    ['GET', '/v1/settings', /lacks the admin scope that GET \/v1\/settings needs/],
    ['POST', '/v1/alerts', /lacks the alert:write scope/],
  ];
  for (const [method, path, message] of cases) {
    const e = await errorOf(await api.call(method, path, { key: writer, ...(method === 'POST' ? { body: {} } : {}) }));
    assert.equal([e.status, e.error.code], [403, 'forbidden']);
    assert.match(e.error.message, message);
  }
});

test('a page that ends exactly at the last row has no nextCursor (audit and alert ledger)', async () => {
  const own = await api.tenant('input-edges-pages');
  for (let i = 0; i < 3; i++) assert.is((await api.call('POST', '/v1/audit', { key: own.adminKey, body: { ...entry, resourceId: `p-${i}` } })).status, 202);
  type Page = { items: unknown[]; nextCursor: string | null };
  const get = async (path: string) => (await (await api.call('GET', path, { key: own.adminKey })).json()) as Page;
  // Paged under a filter that holds only the three written here: the tenant's log also
  // gets the API's own `apikey:used` entry for this key, from a timer (every 5 s), which
  // landed between counting the rows and paging them on a busy machine.
  const q = 'action=task%3Acompleted';
  const all = await waitFor(async () => {
    const page = await get(`/v1/audit?${q}&limit=200`);
    return page.items.length === 3 && page;
  }, 'the three audit entries');
  const n = all.items.length;
  assert.equal((await get(`/v1/audit?${q}&limit=${n}`)).nextCursor, null, `${n} entries, a page of ${n}: no next page`);
  const first = await get(`/v1/audit?${q}&limit=${n - 1}`);
  assert.type(first.nextCursor, 'string');
  const last = await get(`/v1/audit?${q}&limit=${n - 1}&cursor=${first.nextCursor}`);
  assert.equal([last.items.length, last.nextCursor], [1, null]);

  for (const title of ['one', 'two']) assert.is((await api.call('POST', '/v1/alerts', { key: own.adminKey, body: { type: 't', severity: 'info', title } })).status, 202);
  await waitFor(async () => (await get('/v1/alerts?limit=500')).items.length === 2, 'the two ledger rows');
  assert.equal((await get('/v1/alerts?limit=2')).nextCursor, null, 'two alerts, a page of two: no next page');
  const a1 = await get('/v1/alerts?limit=1');
  const a2 = await get(`/v1/alerts?limit=1&cursor=${encodeURIComponent(a1.nextCursor!)}`);
  assert.equal([a2.items.length, a2.nextCursor], [1, null]);
});

test.run();
