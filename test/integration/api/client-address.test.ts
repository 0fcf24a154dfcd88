// The audit entries the API writes on its own (API key denials, operator sign-in
// failures) are written whatever the client address looks like: an IPv6 zone id is
// dropped, a value that is no address at all (X-Forwarded-For from a trusted proxy can
// hold anything) is kept apart in metadata.ipUnparsed, cut short and sanitised. Before,
// the contract refused such an address, the entry was lost and the caller got a 400
// about a field it never sent. A caller's own `ip` is still held to the contract. TLS
// is on, so the server believes X-Forwarded-For from loopback. Real server, Redis and
// Postgres.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { SYSTEM_TENANT_ID } from '../../../lib/audit/record.js';
import { UNPARSED_ADDRESS_MAX } from '../../../lib/net-address.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';

let api: ApiHarness;
test.before(async () => {
  api = await startApi({ TLS_ENABLED: 'true' });
});
test.after(async () => {
  await api?.close();
});

interface Stored {
  tenant_id: string;
  ip: string | null;
  metadata: Record<string, unknown>;
}

/** The entry of `action` written for request `requestId`, once the worker stored it. */
const storedEntry = (action: string, requestId: string) =>
  waitFor(async () => {
    const r = await superuserQuery(
      api.db.url,
      `SELECT tenant_id::text, ip, metadata FROM audit_entries WHERE action = $1 AND request_id = $2`,
      [action, requestId],
    );
    return r.rows[0] as Stored | undefined;
  }, `the ${action} entry of ${requestId}`);

/** A request with an unknown API key from `from`: its status and stored denial entry. */
async function deniedFrom(from: string): Promise<{ status: number; entry: Stored }> {
  const requestId = randomUUID();
  const res = await api.call('GET', '/v1/audit', {
    key: `bwk_${'q'.repeat(43)}`,
    headers: { 'x-forwarded-for': from, 'x-request-id': requestId },
  });
  await res.arrayBuffer();
  assert.is(res.status, 401, `${from}: refused as any unknown key`);
  return { status: res.status, entry: await storedEntry('security:api-key-denied', requestId) };
}

test('an API key denial from an IPv6 address with a zone id is stored, without the zone', async () => {
  const { entry } = await deniedFrom('fe80::1%eth0');
  assert.is(entry.tenant_id, SYSTEM_TENANT_ID);
  assert.is(entry.ip, 'fe80::1');
  assert.is(entry.metadata.ipUnparsed, undefined);
});

test('an API key denial from something that is not an address is stored, the value in metadata.ipUnparsed', async () => {
  const { entry } = await deniedFrom('unknown');
  assert.is(entry.ip, null);
  assert.is(entry.metadata.ipUnparsed, 'unknown');
  assert.is(entry.metadata.route, 'GET /v1/audit');
});

test('a long non-address with bytes outside printable ASCII is kept cut short, those bytes as "?"', async () => {
  const { entry } = await deniedFrom(`bad\u00fc<addr>${'x'.repeat(200)}`);
  assert.is(entry.ip, null);
  assert.is(entry.metadata.ipUnparsed, `bad?<addr>${'x'.repeat(UNPARSED_ADDRESS_MAX - 10)}`);
});

test('IPv4-mapped IPv6 in dotted form is unwrapped; in hex form it is kept whole, as it is an address', async () => {
  assert.is((await deniedFrom('::ffff:198.51.100.9')).entry.ip, '198.51.100.9');
  assert.is((await deniedFrom('::ffff:c633:640a')).entry.ip, '::ffff:c633:640a');
});

test('a wrong operator password from a non-address is answered 401 and audited', async () => {
  const requestId = randomUUID();
  const res = await api.call('POST', '/v1/tenants', {
    body: { name: 'never' },
    headers: {
      authorization: basic(OPERATOR.username, 'not-the-password'),
      'x-forwarded-for': 'unknown',
      'x-request-id': requestId,
    },
  });
  await res.arrayBuffer();
  assert.is(res.status, 401);
  const entry = await storedEntry('security:operator-auth-denied', requestId);
  assert.is(entry.ip, null);
  assert.equal(entry.metadata, { route: 'POST /v1/tenants', ipUnparsed: 'unknown' });
});

test('a caller sending a zone id or a non-address as its own ip still gets a 400 naming the field', async () => {
  const { adminKey } = await api.tenant('client-address');
  for (const ip of ['fe80::1%eth0', 'unknown']) {
    const res = await api.call('POST', '/v1/audit', {
      key: adminKey,
      body: { actorType: 'user', action: 'task:completed', resourceType: 'task', ip },
    });
    assert.is(res.status, 400, ip);
    const body = (await res.json()) as { error: { code: string; fields: Array<{ path: string; message: string }> } };
    assert.is(body.error.code, 'validation_failed');
    assert.equal(body.error.fields, [{ path: 'ip', message: 'must be an IPv4 or IPv6 address' }], ip);
  }
});

test.run();
