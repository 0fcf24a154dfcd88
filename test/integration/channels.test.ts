// Alert channel configuration over HTTP and the CLI: validated, credential only by
// secret:// reference (which must exist), audited, tenant-scoped.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import type { CliIO } from '../../cli/output.js';
import { requireMasterKeys } from '../../lib/config.js';
import { setSecret } from '../../lib/secrets.js';
import { superuserQuery } from '../helpers/db.js';
import { startApi, type ApiHarness } from '../helpers/api.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };

test.before(async () => {
  api = await startApi();
  tenant = await api.tenant('channel-tenant');
  await setSecret(api.bulwark.ctx.prisma, requireMasterKeys(api.bulwark.ctx.config), { tenantId: tenant.id, name: 'hook.secret', value: 'signing-secret-value' }, { type: 'user', id: 't' });
});
test.after(async () => api.close());

test('POST /v1/channels validates, refuses raw credentials and unknown secrets, and audits', async () => {
  const bad = await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { name: 'ops', type: 'pager', target: 'x', secretRef: 'signing-secret-value' } });
  assert.is(bad.status, 400);
  const fields = ((await bad.json()) as { error: { fields: Array<{ path: string }> } }).error.fields.map((f) => f.path).sort();
  assert.equal(fields, ['secretRef', 'type']);
  const missing = await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { name: 'ops', type: 'webhook', target: 'https://hooks.example/x', secretRef: 'secret://nope' } });
  assert.is(missing.status, 400);
  const ok = await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { name: 'ops', type: 'webhook', target: 'https://hooks.example/x', secretRef: 'secret://hook.secret', severities: ['high', 'critical'] } });
  assert.is(ok.status, 201);
  const dup = await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { name: 'ops', type: 'webhook', target: 'https://hooks.example/y', secretRef: 'secret://hook.secret' } });
  assert.is(dup.status, 409);
  const list = (await (await api.call('GET', '/v1/channels', { key: tenant.adminKey })).json()) as { channels: Array<{ name: string; severities: string[] }> };
  assert.equal(list.channels.map((c) => [c.name, c.severities]), [['ops', ['high', 'critical']]]);
  const audited = await superuserQuery(api.db.url, `SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'channel:%'`, [tenant.id]);
  assert.equal(audited.rows.map((r) => r.action), ['channel:added']);
  assert.not.match(JSON.stringify((await superuserQuery(api.db.url, 'SELECT * FROM alert_channels')).rows), 'signing-secret-value');
});

test('the CLI adds, lists and removes channels', async () => {
  const out: string[] = [];
  const io: CliIO = { out: (l) => out.push(l), err: (l) => out.push(l), isTTY: false };
  const env = { DATABASE_URL: api.db.url };
  const add = await main(['channel', 'add', '--tenant', tenant.id, '--name', 'tg', '--type', 'telegram', '--target=-100123', '--secret', 'secret://hook.secret'], io, env);
  assert.is(add, 0, out.join('\n'));
  const badChat = await main(['channel', 'add', '--tenant', tenant.id, '--name', 'tg2', '--type', 'telegram', '--target', 'not a chat', '--secret', 'secret://hook.secret'], io, env);
  assert.is(badChat, 2);
  assert.is(await main(['channel', 'list', '--tenant', tenant.id], io, env), 0);
  assert.ok(out.some((l) => l.startsWith('tg\ttelegram\t-100123\tsecret://hook.secret')));
  assert.is(await main(['channel', 'remove', '--tenant', tenant.id, '--name', 'tg'], io, env), 0);
  assert.is(await main(['channel', 'remove', '--tenant', tenant.id, '--name', 'tg'], io, env), 1);
  const removed = await api.call('DELETE', '/v1/channels/ops', { key: tenant.adminKey });
  assert.is(removed.status, 200);
});

test.run();
