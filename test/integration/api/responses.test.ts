// What the API answers with its default (closed) options: every log line of a request
// carries its request id, which the queued audit job holds too; errors share one JSON
// shape without a stack trace; CORS stays closed and HSTS off; GET /v1/audit filters.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import type { Scope } from '../../../lib/apikeys/keys.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { AUDIT_WRITE_QUEUE, type AuditEntry } from '../../../lib/contracts/audit.js';
import { waitFor } from '../../helpers/env.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };
let writer: string;
let reader: string;
const entry = { actorType: 'user', actorId: 'u-1', action: 'task:completed', resourceType: 'task', resourceId: 't-1' };

const keyFor = async (tenantId: string, scopes: Scope[]) =>
  (await createApiKey(api.bulwark.ctx.prisma, { tenantId, name: scopes.join('+'), scopes }, { type: 'user', id: 'test' })).key;

test.before(async () => {
  api = await startApi({ API_BODY_LIMIT_BYTES: '4096', SETTINGS_CACHE_MS: '0' });
  tenant = await api.tenant('responses');
  writer = await keyFor(tenant.id, ['audit:write']);
  reader = await keyFor(tenant.id, ['audit:read']);
});
test.after(async () => api.close());

/** The lines logged from just before a request until its "request completed" line. */
async function linesOf(send: () => Promise<Response>, requestId: string): Promise<{ status: number; body: string; lines: Array<Record<string, unknown>> }> {
  const from = api.logs.lines.length;
  const res = await send();
  const body = await res.text();
  const end = await waitFor(async () => {
    const i = api.logs.events().findIndex((e, n) => n >= from && e.request_id === requestId && e.msg === 'request completed');
    return i >= 0 ? i + 1 : undefined;
  }, `the completion line of ${requestId}`);
  return { status: res.status, body, lines: api.logs.events().slice(from, end) };
}

async function auditJobEntries(): Promise<AuditEntry[]> {
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection: api.bulwark.ctx.redis, prefix: api.bulwark.ctx.config.queuePrefix });
  try {
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    return jobs.flatMap((j) => (j.data as { entries: AuditEntry[] }).entries);
  } finally {
    await queue.close();
  }
}

test('every log line of a request carries its X-Request-Id, and so does its queued audit job', async () => {
  const ok = await linesOf(() => api.call('POST', '/v1/audit', { key: writer, body: entry, headers: { 'x-request-id': 'trace.ok:1_a-B' } }), 'trace.ok:1_a-B');
  assert.is(ok.status, 202);
  assert.equal(ok.lines.map((l) => l.msg), ['incoming request', 'request completed']);
  for (const line of ok.lines) assert.is(line.request_id, 'trace.ok:1_a-B', JSON.stringify(line));
  // Fastify's request and reply come out as their method and URL, and status, not as {}.
  assert.equal(ok.lines[0]!.req, { method: 'POST', url: '/v1/audit' });
  assert.equal(ok.lines[1]!.res, { statusCode: 202 });
  const { eventId } = JSON.parse(ok.body) as { eventId: string };
  const queued = (await auditJobEntries()).find((e) => e.eventId === eventId);
  assert.is(queued?.requestId, 'trace.ok:1_a-B', 'the job data carries the request id');

  // A refused key writes a line of its own (not Fastify's) and a denial entry.
  const denied = await linesOf(() => api.call('POST', '/v1/audit', { key: reader, body: entry, headers: { 'x-request-id': 'trace-denied-2' } }), 'trace-denied-2');
  assert.is(denied.status, 403);
  assert.equal(denied.lines.map((l) => l.msg), ['incoming request', 'API key denied', 'request completed']);
  for (const line of denied.lines) assert.is(line.request_id, 'trace-denied-2', JSON.stringify(line));
  const deniedEntries = (await auditJobEntries()).filter((e) => e.requestId === 'trace-denied-2');
  assert.equal(deniedEntries.map((e) => [e.action, e.reason]), [['security:api-key-denied', 'wrong_scope']]);
});

test('401, 403, 404, 413, 415 and 429 share one JSON error shape without stack traces', async () => {
  const other = await api.tenant('responses-limited');
  const limitedKey = await keyFor(other.id, ['audit:read']);
  const patch = await api.call('PATCH', '/v1/settings', { key: other.adminKey, body: { api: { requestsPerWindow: 1, windowSeconds: 3600 } } });
  assert.is(patch.status, 200);
  assert.is((await api.call('GET', '/v1/audit?limit=1', { key: limitedKey })).status, 200, 'the one request of the window');

  const cases: Array<[status: number, code: string, send: () => Promise<Response>]> = [
    [401, 'unauthenticated', () => api.call('GET', '/v1/audit')],
    [401, 'unauthenticated', () => api.call('GET', '/v1/audit', { key: `bwk_${'Y'.repeat(43)}` })],
    [401, 'unauthenticated', () => api.call('POST', '/v1/tenants', { body: { name: 'nope' } })],
    [401, 'unauthenticated', () => api.call('GET', '/admin/queues/api/queues')],
    [403, 'forbidden', () => api.call('GET', '/v1/audit', { key: writer })],
    [404, 'not_found', () => api.call('GET', '/v1/no-such-route', { key: reader })],
    [413, 'payload_too_large', () => api.call('POST', '/v1/audit', { key: writer, body: { ...entry, reason: 'x'.repeat(5000) } })],
    [415, 'unsupported_media_type', () => api.call('POST', '/v1/audit', { key: writer, body: 'a=b', headers: { 'content-type': 'text/plain' } })],
    [429, 'rate_limited', () => api.call('GET', '/v1/audit?limit=1', { key: limitedKey })],
  ];
  for (const [status, code, send] of cases) {
    const res = await send();
    const text = await res.text();
    const what = `${status} ${code}: ${text}`;
    assert.is(res.status, status, what);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
    assert.is(res.headers.get('x-powered-by'), null, what);
    assert.is(res.headers.get('server'), null, what);
    assert.not.match(text, /\bat .*:\d+:\d+|stack|node_modules/i, `no stack trace: ${what}`);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    assert.equal(Object.keys(body), ['error'], what);
    assert.equal(Object.keys(body.error).sort(), ['code', 'message'], what);
    assert.is(body.error.code, code, what);
    assert.type(body.error.message, 'string');
    assert.ok(body.error.message.length > 0, what);
  }
});

test('with no CORS_ORIGINS and TLS off: no CORS header on any answer, preflights included, and no HSTS', async () => {
  assert.equal(api.bulwark.ctx.config.corsOrigins, []);
  assert.is(api.bulwark.ctx.config.tlsEnabled, false);
  const origin = 'https://app.example.com';
  const answers = [
    await api.call('OPTIONS', '/v1/audit', { headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } }),
    await api.call('OPTIONS', '/v1/settings', { headers: { origin, 'access-control-request-method': 'PATCH' } }),
    await api.call('GET', '/v1/audit?limit=1', { key: reader, headers: { origin } }),
    await api.call('POST', '/v1/audit', { key: writer, body: entry, headers: { origin } }),
    await api.call('GET', '/healthz', { headers: { origin } }),
  ];
  assert.equal(answers.map((r) => r.status), [404, 404, 200, 202, 200], 'a preflight finds no route to answer it');
  for (const res of answers) {
    await res.arrayBuffer();
    const names = [...res.headers.keys()];
    assert.equal(names.filter((n) => n.startsWith('access-control-')), [], `${res.url}: ${names.join(', ')}`);
    assert.is(res.headers.get('strict-transport-security'), null, res.url);
    assert.is(res.headers.get('x-content-type-options'), 'nosniff', 'the other security headers are still sent');
  }
});

test('GET /v1/audit filters by actor, resource and time range; a bad filter is a 400 naming it', async () => {
  const t = await api.tenant('responses-filters');
  const at = (hour: number) => `2024-03-01T${String(hour).padStart(2, '0')}:00:00.000Z`;
  const entries = [
    { actorType: 'user', actorId: 'alice', action: 'doc:viewed', resourceType: 'doc', resourceId: 'd-1', occurredAt: at(10) },
    // Not 'service': the API's own `apikey:used` entry for this key (timed flush, every 5 s)
    // is a service entry of this tenant, and would join an actorType=service list on a slow run.
    { actorType: 'ai', actorId: 'indexer', action: 'doc:viewed', resourceType: 'doc', resourceId: 'd-2', occurredAt: at(11), reason: 'classified', confidence: 0.9 },
    { actorType: 'user', actorId: 'alice', action: 'doc:edited', resourceType: 'folder', resourceId: 'f-1', occurredAt: at(12) },
  ];
  const posted = await api.call('POST', '/v1/audit/batch', { key: t.adminKey, body: { entries } });
  assert.is(posted.status, 202);
  const [e1, e2, e3] = ((await posted.json()) as { eventIds: string[] }).eventIds;
  const list = async (query: Record<string, string>) => {
    const res = await api.call('GET', `/v1/audit?${new URLSearchParams(query)}`, { key: t.adminKey });
    assert.is(res.status, 200, JSON.stringify(query));
    const body = (await res.json()) as { items: Array<{ eventId: string }>; nextCursor: string | null };
    return { ids: body.items.map((i) => i.eventId), nextCursor: body.nextCursor };
  };
  await waitFor(async () => (await list({ actorId: 'alice' })).ids.length === 2 && (await list({ actorId: 'indexer' })).ids.length === 1, 'the three entries stored');

  // Newest first (the batch's order), each filter alone and combined.
  assert.equal((await list({ actorId: 'alice' })).ids, [e3, e1]);
  assert.equal((await list({ actorType: 'ai' })).ids, [e2]);
  assert.equal((await list({ resourceType: 'folder' })).ids, [e3]);
  assert.equal((await list({ resourceType: 'doc', resourceId: 'd-2' })).ids, [e2]);
  assert.equal((await list({ action: 'doc:viewed', actorId: 'alice' })).ids, [e1]);
  // since is inclusive, until exclusive, and an offset is honoured (13:00+01:00 is 12:00Z).
  assert.equal((await list({ since: at(11), until: at(12) })).ids, [e2]);
  assert.equal((await list({ until: at(11) })).ids, [e1]);
  assert.equal((await list({ since: '2024-03-01T13:00:00+01:00', until: '2024-03-02T00:00:00Z' })).ids, [e3]);
  const page = await list({ since: at(10), until: at(13), limit: '2' });
  assert.equal(page.ids, [e3, e2]);
  assert.equal((await list({ since: at(10), until: at(13), limit: '2', cursor: page.nextCursor ?? 'missing' })).ids, [e1]);
  // Empty results.
  assert.equal(await list({ actorId: 'nobody' }), { ids: [], nextCursor: null });
  assert.equal(await list({ since: '2024-03-01T12:00:00.001Z', until: '2025-01-01T00:00:00Z' }), { ids: [], nextCursor: null });
  assert.equal(await list({ actorId: 'alice', resourceType: 'doc', action: 'doc:edited' }), { ids: [], nextCursor: null });

  for (const [query, field] of [
    ['actorType=robot', 'actorType'],
    ['since=yesterday', 'since'],
    ['until=2024-03-01T10:00:00', 'until'],
    ['cursor=abc', 'cursor'],
    [`action=${'a'.repeat(101)}`, 'action'],
    ['limit=0', 'limit'],
  ] as const) {
    const res = await api.call('GET', `/v1/audit?${query}`, { key: t.adminKey });
    const body = (await res.json()) as { error: { code: string; fields: Array<{ path: string }> } };
    assert.is(res.status, 400, query);
    assert.is(body.error.code, 'validation_failed', query);
    assert.equal(body.error.fields.map((f) => f.path), [field], query);
  }
  // A filter that does not exist (from/to are not the names) is refused, by name.
  const unknown = await api.call('GET', '/v1/audit?from=2024-03-01T10:00:00Z', { key: t.adminKey });
  assert.is(unknown.status, 400);
  assert.equal(((await unknown.json()) as { error: { fields: Array<{ path: string }> } }).error.fields.map((f) => f.path), ['from']);
});

test.run();
