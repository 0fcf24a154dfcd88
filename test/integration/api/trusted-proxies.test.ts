// With TLS_ENABLED the client address comes from X-Forwarded-For, but only when the
// request comes from a proxy in TRUSTED_PROXIES: from anyone else the header is ignored,
// so a client reaching the port directly cannot choose the address the denial-burst
// counters and audit entries record. The recorded address is read back from the
// `security:api-key-denied` entry of a refused request.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { superuserQuery } from '../../helpers/db.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { waitFor } from '../../helpers/env.js';

const FORGED = '203.0.113.7';

async function recordedAddress(api: ApiHarness): Promise<string> {
  const requestId = randomUUID();
  const res = await api.call('GET', '/v1/audit', {
    key: `bwk_${'x'.repeat(40)}`,
    headers: { 'x-forwarded-for': FORGED, 'x-request-id': requestId },
  });
  assert.is(res.status, 401);
  return waitFor(async () => {
    const r = await superuserQuery(
      api.db.url,
      `SELECT ip FROM audit_entries WHERE action = 'security:api-key-denied' AND request_id = $1`,
      [requestId],
    );
    return r.rows[0]?.ip as string | undefined;
  }, 'the denial entry');
}

for (const [name, env, expected] of [
  ['a proxy in TRUSTED_PROXIES (loopback, the default) gives the client address', { TLS_ENABLED: 'true' }, FORGED],
  [
    'a peer not in TRUSTED_PROXIES cannot choose its address: its own is recorded',
    { TLS_ENABLED: 'true', TRUSTED_PROXIES: '10.9.9.9,192.168.0.0/16' },
    '127.0.0.1',
  ],
  ['without TLS_ENABLED no forwarded header is believed', { TRUSTED_PROXIES: 'loopback' }, '127.0.0.1'],
] as const) {
  test(name, async () => {
    const api = await startApi(env);
    try {
      assert.is(await recordedAddress(api), expected);
    } finally {
      await api.close();
    }
  });
}

test.run();
