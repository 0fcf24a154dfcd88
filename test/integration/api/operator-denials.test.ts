// Failed operator sign-ins (HTTP Basic: tenant creation, Bull Board): each wrong attempt
// is logged and audited without the values tried; 10 in an hour from one address are
// judged (401), the next raises one high-severity burst entry and locks that address
// out of operator routes (429), correct password or not. Exact under concurrency, and
// an IPv6 client's whole /64 counts as one address. TLS is on, so the server believes
// X-Forwarded-For from loopback and each test picks its own client address; a request
// without the header is 127.0.0.1's. Real server, Redis and Postgres.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { SYSTEM_TENANT_ID } from '../../../lib/audit/record.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { OPERATOR_DENIAL_LIMIT } from '../../../api/operator-denials.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { queueIdle } from '../../helpers/queues.js';

let api: ApiHarness;
let audits: Queue;
/** How often the server read the operator credentials to compare them with a request's. */
let credentialReads = 0;
test.before(async () => {
  const watched = {
    get username() {
      credentialReads++;
      return OPERATOR.username;
    },
    get password() {
      credentialReads++;
      return OPERATOR.password;
    },
  };
  api = await startApi({ TLS_ENABLED: 'true' }, (config) => Object.freeze({ ...config, operator: watched }));
  audits = new Queue(AUDIT_WRITE_QUEUE, {
    connection: api.bulwark.ctx.redis,
    prefix: api.bulwark.ctx.config.queuePrefix,
  });
});
test.after(async () => {
  await audits?.close();
  await api?.close();
});

interface Entry {
  severity: string;
  ip: string;
  reason: string | null;
  metadata: Record<string, unknown>;
}
/** The system tenant's entries of `action`, from addresses matching the SQL LIKE `ipLike`, once every queued write is done. */
const entries = async (action: string, ipLike: string): Promise<Entry[]> => {
  await queueIdle(audits);
  const q = `SELECT severity, ip, reason, metadata FROM audit_entries WHERE tenant_id = $1 AND action = $2 AND ip::text LIKE $3 ORDER BY seq`;
  return (await superuserQuery(api.db.url, q, [SYSTEM_TENANT_ID, action, ipLike])).rows as Entry[];
};
const wrong = (i: number, from?: string) => ({
  authorization: basic(OPERATOR.username, `wrong-password-${i}`),
  ...(from ? { 'x-forwarded-for': from } : {}),
});
const right = (from?: string) => ({
  authorization: basic(OPERATOR.username, OPERATOR.password),
  ...(from ? { 'x-forwarded-for': from } : {}),
});
const createTenant = async (name: string, headers: Record<string, string>) => {
  const res = await api.call('POST', '/v1/tenants', { body: { name }, headers });
  await res.arrayBuffer();
  return res;
};
const lockedOutEvents = (address: string) =>
  api.logs.events().filter((e) => e.event === 'operator_locked_out' && e.ip === address);

test('10 wrong attempts: 401 each, audited without the values tried; the 11th: one burst entry and the address locked out, correct password or not', async () => {
  // No credentials at all (a browser's first request) is only logged.
  assert.is((await createTenant('x', {})).status, 401);
  for (let i = 0; i < OPERATOR_DENIAL_LIMIT; i++)
    assert.is((await createTenant('x', wrong(i))).status, 401, `attempt ${i + 1}`);
  assert.is(lockedOutEvents('127.0.0.1').length, 0, 'the limit itself locks nothing');
  const res = await createTenant('x', wrong(OPERATOR_DENIAL_LIMIT));
  assert.is(res.status, 429, 'the attempt past the limit is refused unjudged');

  const denied = await entries('security:operator-auth-denied', '127.0.0.1%');
  assert.is(denied.length, OPERATOR_DENIAL_LIMIT, 'the judged attempts, no more');
  assert.ok(denied.every((r) => r.severity === 'medium' && r.reason === 'wrong_credentials' && r.ip === '127.0.0.1'));
  assert.not.match(JSON.stringify(denied), 'wrong-password', 'the values tried are in no entry');
  const [burst, ...more] = await entries('security:operator-auth-denial-burst', '127.0.0.1%');
  assert.is(more.length, 0);
  assert.is(burst?.severity, 'high');
  assert.equal(burst?.metadata, {
    route: 'POST /v1/tenants',
    threshold: OPERATOR_DENIAL_LIMIT,
    window_seconds: 3600,
    address_group: '127.0.0.1',
  });

  // Locked out: the operator's own credentials are refused too, on every operator route.
  const locked = await api.call('POST', '/v1/tenants', { body: { name: 'locked-out' }, headers: right() });
  assert.is(locked.status, 429);
  assert.ok(Number(locked.headers.get('retry-after')) > 3_000, 'until the hour is over');
  assert.is(((await locked.json()) as { error: { code: string } }).error.code, 'rate_limited');
  const board = await api.call('GET', '/admin/queues', { headers: right() });
  assert.is(board.status, 429);
  await board.arrayBuffer();
  assert.is((await createTenant('x', {})).status, 429, 'no credentials: refused as locked too');
  assert.is(
    (await superuserQuery(api.db.url, `SELECT count(*)::int AS n FROM tenants WHERE name = 'locked-out'`)).rows[0].n,
    0,
  );
  const events = api.logs.events();
  assert.ok(events.some((e) => e.event === 'operator_auth_denied' && e.reason === 'missing'));
  assert.ok(events.filter((e) => e.event === 'operator_locked_request').length >= 3);
  assert.is(lockedOutEvents('127.0.0.1').length, 1);
  assert.not.match(api.logs.text(), 'wrong-password');
  assert.is(
    (await entries('security:operator-auth-denial-burst', '127.0.0.1%')).length,
    1,
    'one burst entry, however long it goes on',
  );
});

test('100 concurrent wrong attempts: exactly the limit judged (401, audited), the rest 429, one burst entry', async () => {
  const from = '198.51.100.20';
  const statuses = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => (await createTenant('x', wrong(i, from))).status),
  );
  assert.is(statuses.filter((s) => s === 401).length, OPERATOR_DENIAL_LIMIT, 'judged as wrong passwords');
  assert.is(statuses.filter((s) => s === 429).length, 100 - OPERATOR_DENIAL_LIMIT, 'refused by the lock');
  assert.is((await entries('security:operator-auth-denied', from)).length, OPERATOR_DENIAL_LIMIT);
  assert.is((await entries('security:operator-auth-denial-burst', from)).length, 1);
  assert.is(lockedOutEvents(from).length, 1);
  assert.is(
    (await createTenant('after-the-storm', right(from))).status,
    429,
    'the correct password is refused once locked',
  );
  assert.is((await createTenant('elsewhere', right('198.51.100.21'))).status, 201, 'another address is not locked');
});

test('a correct password among concurrent wrong ones gets in only if it came before the lock', async () => {
  const from = '198.51.100.40';
  const results = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => ({
      correct: i === 25,
      status: (await createTenant(`race-${i}`, i === 25 ? right(from) : wrong(i, from))).status,
    })),
  );
  const wrongOnes = results.filter((r) => !r.correct).map((r) => r.status);
  assert.is(wrongOnes.filter((s) => s === 401).length, OPERATOR_DENIAL_LIMIT);
  assert.is(wrongOnes.filter((s) => s === 429).length, 39 - OPERATOR_DENIAL_LIMIT);
  const correct = results.find((r) => r.correct)!.status;
  assert.ok(correct === 201 || correct === 429, `the correct one: ${correct}`);
  const created = (await superuserQuery(api.db.url, `SELECT count(*)::int AS n FROM tenants WHERE name = 'race-25'`))
    .rows[0].n;
  assert.is(created, correct === 201 ? 1 : 0);
});

test('IPv6: rotating addresses within one /64 share one count and one lock; the next /64 does not', async () => {
  const inPrefix = (i: number) => `2001:db8:1:2::${(i + 1).toString(16)}`;
  for (let i = 0; i < OPERATOR_DENIAL_LIMIT; i++)
    assert.is((await createTenant('x', wrong(i, inPrefix(i)))).status, 401, inPrefix(i));
  assert.is(
    (await createTenant('x', wrong(99, '2001:db8:1:2:ffff:ffff:ffff:ffff'))).status,
    429,
    'the 11th address of the /64',
  );
  assert.is(
    (await createTenant('v6-locked', right('2001:0DB8:0001:0002::abcd'))).status,
    429,
    'any spelling of the /64, correct password too',
  );
  assert.is(
    (await createTenant('v6-neighbour', right('2001:db8:1:3::1'))).status,
    201,
    'the neighbouring /64 is not locked',
  );

  const denied = await entries('security:operator-auth-denied', '2001:db8:1:2:%');
  assert.is(denied.length, OPERATOR_DENIAL_LIMIT);
  assert.is(new Set(denied.map((r) => r.ip)).size, OPERATOR_DENIAL_LIMIT, 'each entry keeps its real address');
  const [burst, ...more] = await entries('security:operator-auth-denial-burst', '2001:db8:1:2:%');
  assert.is(more.length, 0);
  assert.is(burst?.ip, '2001:db8:1:2:ffff:ffff:ffff:ffff');
  assert.is(burst?.metadata.address_group, '2001:db8:1:2::/64');
  assert.is(lockedOutEvents('2001:db8:1:2:ffff:ffff:ffff:ffff')[0]?.address_group, '2001:db8:1:2::/64');
});

test('a locked address gets 429 before its credentials are compared: correct, wrong or none', async () => {
  const from = '198.51.100.80';
  for (let i = 0; i <= OPERATOR_DENIAL_LIMIT; i++) await createTenant('x', wrong(i, from));
  credentialReads = 0;
  for (const headers of [right(from), wrong(99, from), { 'x-forwarded-for': from }]) {
    const res = await api.call('POST', '/v1/tenants', { body: { name: 'locked-unread' }, headers });
    assert.is(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) > 3_000);
    await res.arrayBuffer();
  }
  const board = await api.call('GET', '/admin/queues', { headers: right(from) });
  assert.is(board.status, 429);
  await board.arrayBuffer();
  assert.is(credentialReads, 0, 'the operator credentials were not read for a locked address');
  assert.is((await createTenant('unlocked-read', right('198.51.100.81'))).status, 201);
  assert.ok(credentialReads > 0, 'an address not locked has its credentials compared (the watch works)');
  assert.is(
    (await entries('security:operator-auth-denied', from)).length,
    OPERATOR_DENIAL_LIMIT,
    'nothing more audited while locked',
  );
});

test('IPv4-mapped IPv6 and IPv4 neighbours count per address', async () => {
  for (let i = 0; i < OPERATOR_DENIAL_LIMIT; i++)
    assert.is((await createTenant('x', wrong(i, '::ffff:198.51.100.60'))).status, 401);
  assert.is(
    (await createTenant('x', wrong(10, '198.51.100.60'))).status,
    429,
    'mapped and plain spellings are one address',
  );
  assert.is((await createTenant('v4-neighbour', right('198.51.100.61'))).status, 201);
  assert.is((await createTenant('v4-mapped-neighbour', right('::ffff:198.51.100.62'))).status, 201);
});

test.run();
