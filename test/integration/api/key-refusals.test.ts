// API keys at the edges of their life on a running server with the default key cache:
// a key revoked with `bulwark apikey revoke` is refused within 5 s of its revocation,
// and a revoked or expired key's refusal is audited with its reason and display prefix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Scope } from '../../../lib/apikeys/keys.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { runCli } from '../../helpers/cli.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };

test.before(async () => {
  api = await startApi(); // API_KEY_CACHE_MS left at its default
  tenant = await api.tenant('auth-edges');
});
test.after(async () => api.close());

async function newKey(name: string, scopes: Scope[]): Promise<{ key: string; prefix: string }> {
  const { key, record } = await createApiKey(
    api.bulwark.ctx.prisma,
    { tenantId: tenant.id, name, scopes },
    { type: 'user', id: 'test' },
  );
  return { key, prefix: record.displayPrefix };
}

const cli = (args: string[]) => runCli(args, { DATABASE_URL: api.db.url });

interface DeniedRow {
  tenant_id: string;
  actor_type: string;
  actor_id: string;
  resource_type: string;
  resource_id: string;
  reason: string;
  severity: string;
  request_id: string;
  ip: string;
  metadata: { reason: string; route: string };
}

/** The one `security:api-key-denied` entry of a request, once the worker has written it. */
async function deniedEntry(requestId: string): Promise<DeniedRow> {
  const rows = await waitFor(async () => {
    const r = await superuserQuery(
      api.db.url,
      `SELECT * FROM audit_entries WHERE action = 'security:api-key-denied' AND request_id = $1`,
      [requestId],
    );
    return r.rowCount ? (r.rows as DeniedRow[]) : undefined;
  }, `the denial entry of request ${requestId}`);
  assert.is(rows.length, 1, 'one entry per refused request');
  return rows[0]!;
}

function assertDenied(row: DeniedRow, reason: string, prefix: string, route: string): void {
  assert.is(row.reason, reason);
  assert.is(row.metadata.reason, reason);
  assert.is(row.resource_type, 'api_key');
  assert.is(row.resource_id, prefix, 'the display prefix names the key');
  assert.is(row.actor_id, prefix);
  assert.is(row.actor_type, 'service');
  assert.is(row.tenant_id, tenant.id, "a known key's denial goes to its own tenant");
  assert.is(row.severity, 'medium');
  assert.is(row.ip, '127.0.0.1');
  assert.is(row.metadata.route, route);
}

test('a key revoked with the CLI is refused within 5 s of its revocation, with the default 5 s cache', async () => {
  assert.is(api.bulwark.ctx.config.apiKeyCacheMs, 5000, 'this test is about the default cache');
  const { key, prefix } = await newKey('revoke-me', ['audit:read']);
  // The key's first use fills the cache just before the revocation: the worst case.
  assert.is((await api.call('GET', '/v1/audit?limit=1', { key })).status, 200);
  const revoke = await cli(['apikey', 'revoke', '--tenant', tenant.id, '--key', prefix]);
  assert.is(revoke.code, 0, revoke.err);
  assert.is(revoke.out, `revoked ${prefix}`);
  const stored = await superuserQuery(api.db.url, 'SELECT revoked_at FROM api_keys WHERE display_prefix = $1', [
    prefix,
  ]);
  const revokedAt = (stored.rows[0] as { revoked_at: Date }).revoked_at.getTime();

  // Poll back to back (a 200 costs a few ms; 5 s of them stay far below the 600/min limit).
  let refused: { sentAt: number; status: number; requestId: string } | undefined;
  let served = 0;
  while (!refused && Date.now() - revokedAt < 15_000) {
    const sentAt = Date.now();
    const requestId = `revoked-poll-${served}`;
    const res = await api.call('GET', '/v1/audit?limit=1', { key, headers: { 'x-request-id': requestId } });
    await res.arrayBuffer();
    if (res.status === 200) served++;
    else refused = { sentAt, status: res.status, requestId };
    if (!refused) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(refused, 'the revoked key was still served 15 s after its revocation');
  assert.is(refused.status, 401);
  const late = refused.sentAt - revokedAt;
  assert.ok(late <= 5000, `the first refused request was sent ${late} ms after the revocation (limit 5000 ms)`);
  assertDenied(await deniedEntry(refused.requestId), 'revoked', prefix, 'GET /v1/audit');
  // From then on the key stays refused.
  assert.is(
    (await api.call('GET', '/v1/audit?limit=1', { key, headers: { 'x-request-id': 'revoked-after' } })).status,
    401,
  );
  assertDenied(await deniedEntry('revoked-after'), 'revoked', prefix, 'GET /v1/audit');
});

test('an expired key is refused with 401 and audited as expired with its display prefix', async () => {
  const { key, prefix } = await newKey('expire-me', ['audit:write']);
  // Expired before its first use, so no cached lookup stands in the way.
  const updated = await superuserQuery(
    api.db.url,
    `UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE display_prefix = $1`,
    [prefix],
  );
  assert.is(updated.rowCount, 1);
  const res = await api.call('POST', '/v1/audit', {
    key,
    body: { actorType: 'user', action: 'task:completed', resourceType: 'task' },
    headers: { 'x-request-id': 'expired-key-1' },
  });
  assert.is(res.status, 401);
  assert.is(res.headers.get('www-authenticate'), 'Bearer');
  assert.equal(await res.json(), { error: { code: 'unauthenticated', message: 'the API key is not valid' } });
  assertDenied(await deniedEntry('expired-key-1'), 'expired', prefix, 'POST /v1/audit');
  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  assert.match(metrics, 'bulwark_api_key_denials_total{reason="expired"} 1');
  assert.match(metrics, /bulwark_api_key_denials_total\{reason="revoked"\} [1-9]/);
});

test('the Authorization scheme is case-insensitive (RFC 9110): bearer, BEARER and basic work', async () => {
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    const res = await api.call('GET', '/v1/settings', { headers: { authorization: `${scheme} ${tenant.adminKey}` } });
    assert.is(res.status, 200, scheme);
  }
  const creds = Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString('base64');
  const res = await api.call('POST', '/v1/tenants', {
    body: { name: 'scheme-case' },
    headers: { authorization: `basic ${creds}` },
  });
  assert.is(res.status, 201);
  // A scheme alone, or glued to the key, is still no key.
  assert.is(
    (await api.call('GET', '/v1/settings', { headers: { authorization: `bearer${tenant.adminKey}` } })).status,
    401,
  );
});

test('the denial entries never hold the keys themselves', async () => {
  const rows = await superuserQuery(
    api.db.url,
    `SELECT reason FROM audit_log WHERE action = 'security:api-key-denied' ORDER BY seq`,
  );
  assert.equal(
    rows.rows.map((r: { reason: string }) => r.reason).sort(),
    ['expired', 'revoked', 'revoked'],
    'the two revoked and one expired refusals above',
  );
  assert.not.match(JSON.stringify(rows.rows), /bwk_[A-Za-z0-9_-]{43}/);
});

test.run();
