// The /v1 ingest API end to end: keys, scopes, tenant from the key, request ids,
// the error shape and its statuses, and the entries landing in the chain.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };
let other: { id: string; adminKey: string };
let writer: string;

const entry = { actorType: 'user', actorId: 'u-1', action: 'task:completed', resourceType: 'task', resourceId: 't-1' };
const rows = async (where: string, params: unknown[]) =>
  (await superuserQuery(api.db.url, `SELECT * FROM audit_entries WHERE ${where}`, params)).rows;

test.before(async () => {
  api = await startApi({ API_BODY_LIMIT_BYTES: '4096' });
  tenant = await api.tenant('ingest-a');
  other = await api.tenant('ingest-b');
  writer = (
    await createApiKey(
      api.bulwark.ctx.prisma,
      { tenantId: tenant.id, name: 'writer', scopes: ['audit:write'] },
      { type: 'user', id: 't' },
    )
  ).key;
});
test.after(async () => api.close());

test('POST /v1/audit: 202, the request id echoed and carried into the entry and the logs', async () => {
  const res = await api.call('POST', '/v1/audit', {
    key: writer,
    body: entry,
    headers: { 'x-request-id': 'req-abc-123' },
  });
  assert.is(res.status, 202);
  assert.is(res.headers.get('x-request-id'), 'req-abc-123');
  const body = (await res.json()) as { eventId: string; requestId: string };
  assert.is(body.requestId, 'req-abc-123');
  const [row] = await waitFor(async () => {
    const r = await rows('event_id = $1', [body.eventId]);
    return r.length ? r : undefined;
  }, 'the entry');
  assert.is(row.request_id, 'req-abc-123');
  assert.is(row.tenant_id, tenant.id);
  const bad = await api.call('POST', '/v1/audit', {
    key: writer,
    body: entry,
    headers: { 'x-request-id': 'not valid!' },
  });
  assert.match(
    bad.headers.get('x-request-id') ?? '',
    /^[0-9a-f-]{36}$/,
    'an invalid incoming id is replaced by a UUID',
  );
  assert.ok(
    api.logs.events().some((e) => e.request_id === 'req-abc-123'),
    'a log line of the request carries its id',
  );
  // A body saying "requestId": null gets the request's id, as one that leaves it out.
  const nulled = await api.call('POST', '/v1/audit', {
    key: writer,
    body: { ...entry, requestId: null },
    headers: { 'x-request-id': 'req-null-1' },
  });
  assert.is(nulled.status, 202);
  assert.is(((await nulled.json()) as { requestId: string }).requestId, 'req-null-1');
});

test('X-API-Key works as well as Bearer; batch goes to one job', async () => {
  const res = await api.call('POST', '/v1/audit/batch', {
    body: { entries: [entry, { ...entry, resourceId: 't-2' }] },
    headers: { 'x-api-key': writer },
  });
  assert.is(res.status, 202);
  const body = (await res.json()) as { eventIds: string[] };
  assert.is(body.eventIds.length, 2);
  await waitFor(async () => (await rows('event_id = ANY($1)', [body.eventIds])).length === 2, 'both entries');
});

test('the tenant comes from the key: a body naming another tenant is refused', async () => {
  const res = await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, tenantId: other.id } });
  assert.is(res.status, 403);
  assert.is(((await res.json()) as { error: { code: string } }).error.code, 'tenant_mismatch');
  const same = await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, tenantId: tenant.id } });
  assert.is(same.status, 202);
});

test('errors are JSON with code, message and fields, and the right status', async () => {
  const invalid = await api.call('POST', '/v1/audit', {
    key: writer,
    body: { ...entry, actorType: 'robot', action: 'nope' },
  });
  assert.is(invalid.status, 400);
  const e = ((await invalid.json()) as { error: { code: string; fields: Array<{ path: string }> } }).error;
  assert.is(e.code, 'validation_failed');
  assert.equal(e.fields.map((f) => f.path).sort(), ['action', 'actorType']);
  const json = await api.call('POST', '/v1/audit', {
    key: writer,
    body: '{"broken":',
    headers: { 'content-type': 'application/json' },
  });
  assert.is(json.status, 400);
  assert.is(((await json.json()) as { error: { code: string } }).error.code, 'invalid_json');
  const type = await api.call('POST', '/v1/audit', {
    key: writer,
    body: 'a=b',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.is(type.status, 415);
  const big = await api.call('POST', '/v1/audit', { key: writer, body: { ...entry, reason: 'x'.repeat(5000) } });
  assert.is(big.status, 413);
  const missing = await api.call('GET', '/v1/nothing-here', { key: writer });
  assert.is(missing.status, 404);
  for (const body of [{ ...entry, actorType: 1 }, '{', '[]']) {
    const r = await api.call('POST', '/v1/audit', { key: writer, body });
    const text = await r.text();
    assert.is(r.status, 400);
    assert.not.match(text, /\bat .*:\d+:\d+/, 'no stack trace');
    assert.ok(JSON.parse(text).error.code, text);
  }
});

test('denials: no key 401, unknown key 401, wrong scope 403, each audited with reason and prefix', async () => {
  assert.is((await api.call('POST', '/v1/audit', { body: entry })).status, 401);
  const unknown = `bwk_${'Z'.repeat(43)}`;
  assert.is((await api.call('POST', '/v1/audit', { key: unknown, body: entry })).status, 401);
  assert.is((await api.call('GET', '/v1/audit', { key: writer })).status, 403);
  const denied = await waitFor(async () => {
    const r = await rows(`action = 'security:api-key-denied'`, []);
    return r.length >= 2 ? r : undefined;
  }, 'two denial entries');
  const unknownRow = denied.find((r) => r.reason === 'unknown');
  assert.is(unknownRow?.resource_id, 'bwk_ZZZZZZZZ');
  assert.is(
    unknownRow?.tenant_id,
    '00000000-0000-4000-8000-000000000001',
    'an unknown key is audited under the system tenant',
  );
  const scopeRow = denied.find((r) => r.reason === 'wrong_scope');
  assert.is(scopeRow?.tenant_id, tenant.id);
  assert.not.match(JSON.stringify(denied), unknown, 'the key itself is never stored');
});

test('GET /v1/audit: newest first, cursor pages, filters, and only the key tenant', async () => {
  const reader = tenant.adminKey;
  for (let i = 0; i < 5; i++)
    await api.call('POST', '/v1/audit', {
      key: writer,
      body: { ...entry, action: 'doc:viewed', resourceId: `d-${i}` },
    });
  await api.call('POST', '/v1/audit', { key: other.adminKey, body: { ...entry, action: 'doc:viewed' } });
  await waitFor(async () => (await rows(`action = 'doc:viewed'`, [])).length === 6, 'six doc entries');
  const page1 = (await (await api.call('GET', '/v1/audit?action=doc:viewed&limit=3', { key: reader })).json()) as {
    items: Array<{ seq: string; resourceId: string }>;
    nextCursor: string;
  };
  assert.is(page1.items.length, 3);
  assert.ok(Number(page1.items[0]!.seq) > Number(page1.items[2]!.seq), 'newest first');
  const page2 = (await (
    await api.call('GET', `/v1/audit?action=doc:viewed&limit=3&cursor=${page1.nextCursor}`, { key: reader })
  ).json()) as { items: unknown[]; nextCursor: string | null };
  assert.is(page2.items.length, 2, "the other tenant's entry is not visible");
  assert.is(page2.nextCursor, null);
  const bad = await api.call('GET', '/v1/audit?limit=1000', { key: reader });
  assert.is(bad.status, 400);
});

test('settings: admin reads and patches, bad values are 400, each change audited', async () => {
  const got = (await (await api.call('GET', '/v1/settings', { key: tenant.adminKey })).json()) as {
    settings: { retention: { securityDays: number } };
  };
  assert.is(got.settings.retention.securityDays, 365);
  const patched = await api.call('PATCH', '/v1/settings', {
    key: tenant.adminKey,
    body: { alerts: { cooldownSeconds: 60 } },
  });
  assert.is(patched.status, 200);
  assert.is(
    ((await patched.json()) as { settings: { alerts: { cooldownSeconds: number; maxPerWindow: number } } }).settings
      .alerts.maxPerWindow,
    20,
  );
  const bad = await api.call('PATCH', '/v1/settings', {
    key: tenant.adminKey,
    body: { alerts: { cooldownSeconds: -1, colour: 'red' } },
  });
  assert.is(bad.status, 400);
  assert.is((await api.call('PATCH', '/v1/settings', { key: writer, body: {} })).status, 403);
  // Patches that change nothing are answered (200, the settings) but are no change to audit.
  for (const body of [{}, { alerts: { cooldownSeconds: 60 } }])
    assert.is((await api.call('PATCH', '/v1/settings', { key: tenant.adminKey, body })).status, 200);
  const audited = await rows(`action = 'settings:updated' AND tenant_id = $1`, [tenant.id]);
  assert.is(audited.length, 1, 'one change, one entry');
  assert.is(audited[0].after_state.alerts.cooldownSeconds, 60);
});

test('tenant creation over HTTP needs operator credentials', async () => {
  assert.is((await api.call('POST', '/v1/tenants', { body: { name: 'nope' } })).status, 401);
  assert.is(
    (
      await api.call('POST', '/v1/tenants', {
        body: { name: 'nope' },
        headers: { authorization: basic(OPERATOR.username, 'wrong-password-1') },
      })
    ).status,
    401,
  );
  assert.is(
    (
      await api.call('POST', '/v1/tenants', {
        body: { name: 'ingest-a' },
        headers: { authorization: basic(OPERATOR.username, OPERATOR.password) },
      })
    ).status,
    409,
  );
});

test('no API key or operator password appears in any log line', () => {
  const text = api.logs.text();
  for (const secret of [writer, tenant.adminKey, other.adminKey, OPERATOR.password]) assert.not.match(text, secret);
});

test.run();
