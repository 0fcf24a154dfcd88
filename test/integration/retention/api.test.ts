// Holds and receipts over HTTP: admin scope only, the key's tenant only, bad bodies
// named, every change audited; the preview lists the object classes in the store (its
// own s3rver) and is a 503 with Retry-After while the store does not answer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { cleanup } from '../../helpers/lifecycle.js';
import { putObjects, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let api: ApiHarness;
let store: RetentionStore;
let a: { id: string; adminKey: string };
let b: { id: string; adminKey: string };
let readKey: string;

test.before(async () => {
  store = await startRetentionStore();
  api = await startApi(store.env);
  a = await api.tenant('holds-a');
  b = await api.tenant('holds-b');
  readKey = (
    await createApiKey(
      api.bulwark.ctx.prisma,
      { tenantId: a.id, name: 'reader', scopes: ['audit:read'] },
      { type: 'user', id: 't' },
    )
  ).key;
});
test.after(
  cleanup([
    ['close api', () => api?.close()],
    ['stop store', () => store?.stop()],
  ]),
);

test('a hold is added, listed and released with the admin scope; another scope is 403', async () => {
  assert.is((await api.call('GET', '/v1/holds', { key: readKey })).status, 403);
  const bad = await api.call('POST', '/v1/holds', { key: a.adminKey, body: { scope: 'actor', reason: 'case 9' } });
  assert.is(bad.status, 400);
  assert.match(JSON.stringify(await bad.json()), 'actorId');
  const wrong = await api.call('POST', '/v1/holds', {
    key: a.adminKey,
    body: { scope: 'all', actorId: 'x', reason: 'case 9' },
  });
  assert.is(wrong.status, 400);
  const other = await api.call('POST', '/v1/holds', {
    key: a.adminKey,
    body: { tenantId: b.id, scope: 'all', reason: 'case 9' },
  });
  assert.is(other.status, 403, 'a body naming another tenant');
  const res = await api.call('POST', '/v1/holds', {
    key: a.adminKey,
    body: { scope: 'resource', resource: 'invoice:42', reason: 'case 9', until: '2099-01-01' },
  });
  assert.is(res.status, 201, await res.clone().text());
  const { hold } = (await res.json()) as { hold: { id: string; resource: string } };
  assert.is(hold.resource, 'invoice:42');
  const listed = (await (await api.call('GET', '/v1/holds', { key: a.adminKey })).json()) as { holds: unknown[] };
  assert.is(listed.holds.length, 1);
  assert.is(
    ((await (await api.call('GET', '/v1/holds', { key: b.adminKey })).json()) as { holds: unknown[] }).holds.length,
    0,
  );
  assert.is(
    (await api.call('POST', `/v1/holds/${hold.id}/release`, { key: b.adminKey, body: { reason: 'not mine' } })).status,
    404,
    "another tenant's hold",
  );
  assert.is((await api.call('POST', `/v1/holds/${hold.id}/release`, { key: a.adminKey, body: {} })).status, 400);
  assert.is(
    (await api.call('POST', `/v1/holds/${hold.id}/release`, { key: a.adminKey, body: { reason: 'settled' } })).status,
    200,
  );
  assert.is(
    (await api.call('POST', `/v1/holds/${hold.id}/release`, { key: a.adminKey, body: { reason: 'settled' } })).status,
    409,
  );
  const history = (await (await api.call('GET', '/v1/holds?released=true', { key: a.adminKey })).json()) as {
    holds: Array<{ releaseReason: string }>;
  };
  assert.is(history.holds[0]!.releaseReason, 'settled');
  const audited = await superuserQuery(
    api.db.url,
    `SELECT action, request_id FROM audit_log WHERE tenant_id = $1 AND action LIKE 'hold:%' ORDER BY seq`,
    [a.id],
  );
  assert.equal(
    audited.rows.map((r) => r.action),
    ['hold:added', 'hold:released'],
  );
  assert.ok(
    audited.rows.every((r) => r.request_id),
    'the request id is on each entry',
  );
});

test('preview and receipts answer for the key tenant; a bad limit is 400', async () => {
  await putObjects(store.storage, a.id, 'snapshots/annotated', 100, 2, 'p');
  await putObjects(store.storage, b.id, 'snapshots/annotated', 100, 3, 'p');
  const preview = (await (await api.call('GET', '/v1/retention/preview', { key: a.adminKey })).json()) as {
    classes: Array<{ class: string; ttlDays: number; count: number; bytes?: number }>;
  };
  const annotated = preview.classes.find((c) => c.class === 'objects:snapshots-annotated')!;
  assert.equal([annotated.ttlDays, annotated.count, annotated.bytes], [90, 2, 20], "the key tenant's objects only");
  assert.equal(
    preview.classes.find((c) => c.class === 'audit:security'),
    { ...preview.classes.find((c) => c.class === 'audit:security')!, ttlDays: 365, count: 0 },
  );
  assert.is((await api.call('GET', '/v1/retention/receipts?limit=0', { key: a.adminKey })).status, 400);
  assert.equal(await (await api.call('GET', '/v1/retention/receipts', { key: a.adminKey })).json(), { receipts: [] });
});

test('the preview is a 503 with Retry-After while the object store does not answer', async () => {
  store.proxy.block();
  const res = await api.call('GET', '/v1/retention/preview', { key: a.adminKey }).finally(() => store.proxy.unblock());
  assert.is(res.status, 503);
  assert.is(res.headers.get('retry-after'), '5');
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.is(body.error.code, 'object_store_unavailable');
  assert.not.match(body.error.message, 'S3RVER');
});

test.run();
