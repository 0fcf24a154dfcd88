// The HTTP surface's hardening with every option turned on: security headers on
// every response, HSTS under TLS, CORS only for configured origins, /metrics behind
// its token; and no secret value in logs, Redis job data or HTTP responses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireMasterKeys } from '../../../lib/config.js';
import { resolveSecretRef, setSecret } from '../../../lib/secrets/secrets.js';
import { waitFor } from '../../helpers/env.js';
import { dumpRedis } from '../../helpers/queues.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';

const METRICS_TOKEN = 'scrape-token-0123456789';
const SECRET = 'tg-bot-token-SUPERSECRET-987';
let api: ApiHarness;
let tenant: { id: string; adminKey: string };

test.before(async () => {
  api = await startApi({ METRICS_TOKEN, CORS_ORIGINS: 'https://app.example.com', TLS_ENABLED: 'true' });
  tenant = await api.tenant('surface-tenant');
});
test.after(async () => api.close());

test('every response carries the security headers, errors and 404s included', async () => {
  for (const [method, path, key] of [['GET', '/healthz', undefined], ['GET', '/v1/settings', tenant.adminKey], ['GET', '/nope', undefined], ['POST', '/v1/audit', undefined]] as const) {
    const res = await api.call(method, path, { key, body: method === 'POST' ? {} : undefined });
    const h = res.headers;
    assert.is(h.get('x-content-type-options'), 'nosniff', path);
    assert.is(h.get('x-frame-options'), 'DENY', path);
    assert.is(h.get('referrer-policy'), 'no-referrer', path);
    assert.match(h.get('content-security-policy') ?? '', "default-src 'none'", path);
    assert.match(h.get('strict-transport-security') ?? '', 'max-age=', path);
    assert.is(h.get('x-powered-by'), null, path);
    assert.ok(h.get('x-request-id'), path);
  }
});

test('CORS answers only configured origins', async () => {
  const allowed = await api.call('OPTIONS', '/v1/audit', { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
  assert.is(allowed.status, 204);
  assert.is(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
  const other = await api.call('OPTIONS', '/v1/audit', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.is(other.headers.get('access-control-allow-origin'), null);
  const get = await api.call('GET', '/v1/settings', { key: tenant.adminKey, headers: { origin: 'https://evil.example' } });
  assert.is(get.headers.get('access-control-allow-origin'), null);
});

test('/metrics needs the scrape token when one is configured', async () => {
  assert.is((await fetch(`${api.url}/metrics`)).status, 401);
  assert.is((await fetch(`${api.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0000000' } })).status, 401);
  const ok = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.is(ok.status, 200);
  assert.match(await ok.text(), 'bulwark_api_key_denials_total');
});

test('a secret value appears in no log line, no Redis key and no HTTP response', async () => {
  const keys = requireMasterKeys(api.bulwark.ctx.config);
  const prisma = api.bulwark.ctx.prisma;
  await setSecret(prisma, keys, { tenantId: tenant.id, name: 'telegram.bot', value: SECRET }, { type: 'user', id: 't' });
  assert.is(await resolveSecretRef(prisma, keys, tenant.id, 'secret://telegram.bot'), SECRET);
  // Traffic that touches secrets, audit entries and the queues.
  const audit = await api.call('POST', '/v1/audit', { key: tenant.adminKey, body: { actorType: 'user', action: 'secret:used', resourceType: 'secret', resourceId: 'telegram.bot', metadata: { token: SECRET } } });
  assert.is(audit.status, 202, await audit.clone().text());
  const { eventId } = (await audit.json()) as { eventId: string };
  const alert = await api.call('POST', '/v1/alerts', { key: tenant.adminKey, body: { type: 'test', severity: 'info', title: 't', labels: { ref: 'secret://telegram.bot' } } });
  assert.is(alert.status, 202, await alert.clone().text());
  // The entry is stored (so the page below holds it) before anything is inspected.
  const page = await waitFor(async () => {
    const text = await (await api.call('GET', '/v1/audit?limit=200', { key: tenant.adminKey })).text();
    return text.includes(eventId) ? text : undefined;
  }, 'the audit entry listed');
  const responses = [page, await (await api.call('GET', '/v1/settings', { key: tenant.adminKey })).text()];
  responses.push(await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text());
  for (const r of responses) assert.not.match(r, SECRET);
  assert.match(page, '[REDACTED]', 'the secret-looking metadata field was stored redacted');
  assert.not.match(api.logs.text(), SECRET);
  // Every key of the run's prefix, of every type; the audit job's data is among them.
  const dump = await dumpRedis(api.bulwark.ctx.config.queuePrefix);
  assert.match(dump, eventId, 'the dump holds the audit-write job data');
  assert.not.match(dump, SECRET);
});

test.run();
