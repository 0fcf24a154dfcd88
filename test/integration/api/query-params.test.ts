// Query parameters a route does not read are refused, naming each, on every /v1 route:
// GET /v1/channels and GET /v1/settings ignored them (a misspelt filter looked like an
// empty one), while GET /v1/audit and GET /v1/alerts already refused them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };
const operator = { authorization: basic(OPERATOR.username, OPERATOR.password) };
const NONE = 'is not a known field (this route takes no query parameters)';

type Fields = Array<{ path: string; message: string }>;
async function refusal(res: Response): Promise<{ status: number; code: string; fields: Fields }> {
  const body = (await res.json()) as { error: { code: string; fields?: Fields } };
  return { status: res.status, code: body.error.code, fields: body.error.fields ?? [] };
}

test.before(async () => {
  api = await startApi({ SETTINGS_CACHE_MS: '0' });
  tenant = await api.tenant('query-params');
});
test.after(async () => api.close());

test('GET /v1/channels and GET /v1/settings refuse any query parameter, naming each', async () => {
  for (const path of ['/v1/channels', '/v1/settings']) {
    assert.is((await api.call('GET', path, { key: tenant.adminKey })).status, 200, path);
    // A bare "?" holds no parameter.
    assert.is((await api.call('GET', `${path}?`, { key: tenant.adminKey })).status, 200, `${path}?`);
    const one = await refusal(await api.call('GET', `${path}?type=webhook`, { key: tenant.adminKey }));
    assert.equal(one, { status: 400, code: 'validation_failed', fields: [{ path: 'type', message: NONE }] }, path);
    const two = await refusal(await api.call('GET', `${path}?limit=5&name=ops`, { key: tenant.adminKey }));
    assert.equal(two.fields.map((f) => f.path), ['limit', 'name'], path);
  }
});

test('every route without query parameters refuses them, before doing anything', async () => {
  const cases: Array<[method: string, path: string, body?: unknown]> = [
    ['POST', '/v1/audit?dryRun=1', { actorType: 'user', actorId: 'u', action: 'a:b', resourceType: 'r' }],
    ['POST', '/v1/audit/batch?dryRun=1', { entries: [{ actorType: 'user', actorId: 'u', action: 'a:b', resourceType: 'r' }] }],
    ['POST', '/v1/alerts?dryRun=1', { type: 't', severity: 'warning', title: 'x' }],
    ['PATCH', '/v1/settings?dryRun=1', { api: { requestsPerWindow: 7 } }],
    ['POST', '/v1/channels?dryRun=1', { name: 'c', type: 'webhook', target: 'https://x.example', secretRef: 'secret://none' }],
    ['DELETE', '/v1/channels/none?dryRun=1'],
  ];
  for (const [method, path, body] of cases) {
    const r = await refusal(await api.call(method, path, { key: tenant.adminKey, body }));
    assert.equal(r, { status: 400, code: 'validation_failed', fields: [{ path: 'dryRun', message: NONE }] }, `${method} ${path}`);
  }
  const settings = (await (await api.call('GET', '/v1/settings', { key: tenant.adminKey })).json()) as { settings: { api: { requestsPerWindow: number } } };
  assert.is.not(settings.settings.api.requestsPerWindow, 7, 'the refused PATCH changed nothing');
  // The operator route too: the tenant is not created, and is without the parameter.
  const created = await refusal(await api.call('POST', '/v1/tenants?timezone=UTC', { body: { name: 'q-tenant' }, headers: operator }));
  assert.equal(created, { status: 400, code: 'validation_failed', fields: [{ path: 'timezone', message: NONE }] });
  assert.is((await api.call('POST', '/v1/tenants', { body: { name: 'q-tenant' }, headers: operator })).status, 201);
});

test('GET /v1/alerts names only its own parameters: a tenantId in the query is refused, not overridden', async () => {
  assert.is((await api.call('GET', '/v1/alerts?limit=5&outcome=delivered', { key: tenant.adminKey })).status, 200);
  const r = await refusal(await api.call('GET', `/v1/alerts?tenantId=${tenant.id}`, { key: tenant.adminKey }));
  assert.equal(r, { status: 400, code: 'validation_failed', fields: [{ path: 'tenantId', message: 'is not a known field' }] });
  const audit = await refusal(await api.call('GET', '/v1/audit?colour=red&limit=5', { key: tenant.adminKey }));
  assert.equal(audit.fields, [{ path: 'colour', message: 'is not a known field' }]);
});

test('limit is digits only: " 5", "0x10", "1e2", "5.0" and "+5" are refused naming limit, "5" taken', async () => {
  for (const path of ['/v1/audit', '/v1/alerts']) {
    assert.is((await api.call('GET', `${path}?limit=5`, { key: tenant.adminKey })).status, 200, path);
    for (const limit of ['%205', '0x10', '1e2', '5.0', '%2B5', '', '0', '999999999999']) {
      const r = await refusal(await api.call('GET', `${path}?limit=${limit}`, { key: tenant.adminKey }));
      assert.equal([r.status, r.fields.map((f) => f.path)], [400, ['limit']], `${path}?limit=${limit}`);
      assert.match(r.fields[0]!.message, 'must be a whole number from 1 to');
    }
  }
});

test('the key comes first: without one the answer is 401, whatever the query', async () => {
  for (const path of ['/v1/channels?x=1', '/v1/settings?x=1']) assert.is((await api.call('GET', path)).status, 401, path);
});

test.run();
