// A change made over HTTP is recorded with the request it came with: the entries for
// tenant creation (operator), a settings change and a channel added and removed (API
// key) carry the request id, the client's address and its user agent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';

let api: ApiHarness;
test.before(async () => {
  api = await startApi();
});
test.after(async () => {
  await api.close();
});

interface ContextRow {
  action: string;
  actor_type: string;
  actor_id: string;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
}
const entriesOf = async (tenantId: string) =>
  (
    await superuserQuery(
      api.db.url,
      'SELECT action, actor_type, actor_id, request_id, ip, user_agent FROM audit_entries WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    )
  ).rows as ContextRow[];

test('tenant creation, a settings change and channel changes carry request id, address and user agent', async () => {
  const created = await api.call('POST', '/v1/tenants', {
    body: { name: 'context-tenant' },
    headers: {
      authorization: basic(OPERATOR.username, OPERATOR.password),
      'x-request-id': 'req-create-1',
      'user-agent': 'ops-console/2.1',
    },
  });
  assert.is(created.status, 201);
  const { tenant, adminKey } = (await created.json()) as {
    tenant: { id: string };
    adminKey: { key: string; displayPrefix: string };
  };
  const patched = await api.call('PATCH', '/v1/settings', {
    key: adminKey.key,
    body: { alerts: { cooldownSeconds: 30 } },
    headers: { 'x-request-id': 'req-settings-1', 'user-agent': 'terraform/1.9' },
  });
  assert.is(patched.status, 200);
  await setSecret(
    api.bulwark.ctx.prisma,
    requireMasterKeys(api.bulwark.ctx.config),
    { tenantId: tenant.id, name: 'hook', value: 'context-signing-secret' },
    { type: 'system', id: 'test' },
  );
  const added = await api.call('POST', '/v1/channels', {
    key: adminKey.key,
    body: { name: 'ops', type: 'webhook', target: 'https://hooks.example/ops', secretRef: 'secret://hook' },
    headers: { 'x-request-id': 'req-channel-1', 'user-agent': 'terraform/1.9' },
  });
  assert.is(added.status, 201, await added.clone().text());
  const removed = await api.call('DELETE', '/v1/channels/ops', {
    key: adminKey.key,
    headers: { 'x-request-id': 'req-channel-2' },
  });
  assert.is(removed.status, 200);

  const byAction = new Map((await entriesOf(tenant.id)).map((e) => [e.action, e]));
  const expect = (action: string, fields: Partial<ContextRow>) => {
    const e = byAction.get(action);
    assert.ok(e, `an entry ${action}`);
    for (const [k, v] of Object.entries(fields)) assert.is(e![k as keyof ContextRow], v, `${action}.${k}`);
  };
  const loopback = { ip: '127.0.0.1' };
  expect('tenant:created', {
    actor_type: 'user',
    actor_id: 'operator',
    request_id: 'req-create-1',
    user_agent: 'ops-console/2.1',
    ...loopback,
  });
  expect('apikey:created', {
    actor_type: 'user',
    actor_id: 'operator',
    request_id: 'req-create-1',
    user_agent: 'ops-console/2.1',
    ...loopback,
  });
  expect('settings:updated', {
    actor_type: 'service',
    actor_id: adminKey.displayPrefix,
    request_id: 'req-settings-1',
    user_agent: 'terraform/1.9',
    ...loopback,
  });
  expect('channel:added', {
    actor_id: adminKey.displayPrefix,
    request_id: 'req-channel-1',
    user_agent: 'terraform/1.9',
    ...loopback,
  });
  // fetch sends its own user agent when the caller sets none.
  expect('channel:removed', { actor_id: adminKey.displayPrefix, request_id: 'req-channel-2', ...loopback });
});

test.run();
