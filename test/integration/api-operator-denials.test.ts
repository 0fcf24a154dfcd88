// Failed operator sign-ins (HTTP Basic: tenant creation, Bull Board): each wrong attempt
// is logged and audited without the values tried; more than 10 in an hour from one
// address raise one high-severity burst entry and lock that address out of operator
// routes, correct password or not. Real server, Redis and Postgres.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SYSTEM_TENANT_ID } from '../../lib/audit/record.js';
import { OPERATOR_DENIAL_LIMIT } from '../../producers/http/operator-denials.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../helpers/api.js';
import { superuserQuery } from '../helpers/db.js';
import { waitFor } from '../helpers/env.js';

let api: ApiHarness;
test.before(async () => void (api = await startApi()));
test.after(async () => api?.close());

const entries = async (action: string) =>
  (await superuserQuery(api.db.url, `SELECT severity, ip, reason, metadata, before_state, after_state FROM audit_log WHERE tenant_id = $1 AND action = $2`, [SYSTEM_TENANT_ID, action])).rows;

test('wrong operator credentials: 401 each, audited without the values tried; past the limit one burst entry and the address locked out, correct password or not', async () => {
  const wrong = (i: number) => ({ authorization: basic(OPERATOR.username, `wrong-password-${i}`) });
  // No credentials at all (a browser's first request) is only logged.
  assert.is((await api.call('POST', '/v1/tenants', { body: { name: 'x' } })).status, 401);
  for (let i = 0; i <= OPERATOR_DENIAL_LIMIT; i++) {
    const res = await api.call('POST', '/v1/tenants', { body: { name: 'x' }, headers: wrong(i) });
    assert.is(res.status, 401, `attempt ${i + 1}`);
  }
  const denied = await waitFor(async () => {
    const rows = await entries('security:operator-auth-denied');
    return rows.length === OPERATOR_DENIAL_LIMIT + 1 ? rows : undefined;
  }, 'every wrong attempt audited');
  assert.ok(denied.every((r) => r.severity === 'medium' && r.reason === 'wrong_credentials' && r.ip === '127.0.0.1'));
  assert.not.match(JSON.stringify(denied), 'wrong-password', 'the values tried are in no entry');
  const burst = await waitFor(async () => (await entries('security:operator-auth-denial-burst')).at(0), 'the burst entry');
  assert.is(burst.severity, 'high');
  // Locked out: the operator's own credentials are refused too, on every operator route.
  const locked = await api.call('POST', '/v1/tenants', { body: { name: 'locked-out' }, headers: { authorization: basic(OPERATOR.username, OPERATOR.password) } });
  assert.is(locked.status, 429);
  assert.ok(Number(locked.headers.get('retry-after')) > 3_000, 'until the hour is over');
  assert.is(((await locked.json()) as { error: { code: string } }).error.code, 'rate_limited');
  const board = await api.call('GET', '/admin/queues', { headers: { authorization: basic(OPERATOR.username, OPERATOR.password) } });
  assert.is(board.status, 429);
  assert.is((await superuserQuery(api.db.url, `SELECT count(*)::int AS n FROM tenants WHERE name = 'locked-out'`)).rows[0].n, 0);
  const events = api.logs.events();
  assert.ok(events.some((e) => e.event === 'operator_auth_denied' && e.reason === 'missing'));
  assert.is(events.filter((e) => e.event === 'operator_locked_out').length, 1);
  assert.not.match(api.logs.text(), 'wrong-password');
  assert.is((await entries('security:operator-auth-denial-burst')).length, 1, 'one burst entry, however long it goes on');
});

test.run();
