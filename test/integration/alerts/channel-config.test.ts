// Alert channel configuration over HTTP and the CLI: validated, credential only by
// secret:// reference (which must exist), audited, tenant-scoped.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../../cli/main.js';
import type { CliIO } from '../../../cli/output.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { superuserQuery } from '../../helpers/db.js';
import { newestAlertWhen, startApi, type ApiHarness } from '../../helpers/api.js';
import { replies, startReceiver } from '../../helpers/receiver.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };

test.before(async () => {
  api = await startApi();
  tenant = await api.tenant('channel-tenant');
  await setSecret(
    api.bulwark.ctx.prisma,
    requireMasterKeys(api.bulwark.ctx.config),
    { tenantId: tenant.id, name: 'hook.secret', value: 'signing-secret-value' },
    { type: 'user', id: 't' },
  );
});
test.after(async () => api.close());

test('POST /v1/channels validates, refuses raw credentials and unknown secrets, and audits', async () => {
  const bad = await api.call('POST', '/v1/channels', {
    key: tenant.adminKey,
    body: { name: 'ops', type: 'pager', target: 'x', secretRef: 'signing-secret-value' },
  });
  assert.is(bad.status, 400);
  const fields = ((await bad.json()) as { error: { fields: Array<{ path: string }> } }).error.fields
    .map((f) => f.path)
    .sort();
  assert.equal(fields, ['secretRef', 'type']);
  // A user or password in a webhook URL would be shown by the API and every listing.
  const withUser = await api.call('POST', '/v1/channels', {
    key: tenant.adminKey,
    body: {
      name: 'ops',
      type: 'webhook',
      target: 'https://user:pw@hooks.example/x',
      secretRef: 'secret://hook.secret',
    },
  });
  assert.is(withUser.status, 400);
  const userError = ((await withUser.json()) as { error: { fields: Array<{ path: string; message: string }> } }).error;
  assert.equal(
    userError.fields.map((f) => f.path),
    ['target'],
  );
  assert.match(userError.fields[0]!.message, 'must not carry a user or password');
  assert.not.match(JSON.stringify(userError), 'pw@', 'the refusal does not echo the password');
  const missing = await api.call('POST', '/v1/channels', {
    key: tenant.adminKey,
    body: { name: 'ops', type: 'webhook', target: 'https://hooks.example/x', secretRef: 'secret://nope' },
  });
  assert.is(missing.status, 400);
  const ok = await api.call('POST', '/v1/channels', {
    key: tenant.adminKey,
    body: {
      name: 'ops',
      type: 'webhook',
      target: 'https://hooks.example/x',
      secretRef: 'secret://hook.secret',
      severities: ['high', 'critical'],
    },
  });
  assert.is(ok.status, 201);
  const dup = await api.call('POST', '/v1/channels', {
    key: tenant.adminKey,
    body: { name: 'ops', type: 'webhook', target: 'https://hooks.example/y', secretRef: 'secret://hook.secret' },
  });
  assert.is(dup.status, 409);
  const list = (await (await api.call('GET', '/v1/channels', { key: tenant.adminKey })).json()) as {
    channels: Array<{ name: string; severities: string[] }>;
  };
  assert.equal(
    list.channels.map((c) => [c.name, c.severities]),
    [['ops', ['high', 'critical']]],
  );
  const audited = await superuserQuery(
    api.db.url,
    `SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'channel:%'`,
    [tenant.id],
  );
  assert.equal(
    audited.rows.map((r) => r.action),
    ['channel:added'],
  );
  const added = await superuserQuery(
    api.db.url,
    `SELECT after_state FROM audit_entries WHERE tenant_id = $1 AND action = 'channel:added'`,
    [tenant.id],
  );
  assert.is(
    added.rows[0].after_state.ref,
    'secret://hook.secret',
    'the trail names the secret the channel uses (a reference, not a value)',
  );
  assert.not.match(
    JSON.stringify((await superuserQuery(api.db.url, 'SELECT * FROM alert_channels')).rows),
    'signing-secret-value',
  );
});

test('the CLI adds, lists and removes channels', async () => {
  const out: string[] = [];
  const io: CliIO = { out: (l) => out.push(l), err: (l) => out.push(l), isTTY: false };
  const env = { DATABASE_URL: api.db.url };
  const add = await main(
    [
      'channel',
      'add',
      '--tenant',
      tenant.id,
      '--name',
      'tg',
      '--type',
      'telegram',
      '--target=-100123',
      '--secret',
      'secret://hook.secret',
    ],
    io,
    env,
  );
  assert.is(add, 0, out.join('\n'));
  const badChat = await main(
    [
      'channel',
      'add',
      '--tenant',
      tenant.id,
      '--name',
      'tg2',
      '--type',
      'telegram',
      '--target',
      'not a chat',
      '--secret',
      'secret://hook.secret',
    ],
    io,
    env,
  );
  assert.is(badChat, 2);
  assert.is(await main(['channel', 'list', '--tenant', tenant.id], io, env), 0);
  assert.ok(out.some((l) => l.startsWith('tg\ttelegram\t-100123\tsecret://hook.secret')));
  assert.is(await main(['channel', 'remove', '--tenant', tenant.id, '--name', 'tg'], io, env), 0);
  assert.is(await main(['channel', 'remove', '--tenant', tenant.id, '--name', 'tg'], io, env), 1);
  const removed = await api.call('DELETE', '/v1/channels/ops', { key: tenant.adminKey });
  assert.is(removed.status, 200);
});

test("GET /v1/alerts and `bulwark alerts log` show an alert with each of its channels' sends", async () => {
  const [ok, refusing] = [await startReceiver(), await startReceiver({ reply: replies.badRequest })];
  try {
    const t = await api.tenant('ledger-tenant');
    await setSecret(
      api.bulwark.ctx.prisma,
      requireMasterKeys(api.bulwark.ctx.config),
      { tenantId: t.id, name: 'hook', value: 'ledger-signing-secret' },
      { type: 'user', id: 't' },
    );
    for (const [name, target] of [
      ['ok', `${ok.url}/in`],
      ['refusing', `${refusing.url}/in`],
    ]) {
      const added = await api.call('POST', '/v1/channels', {
        key: t.adminKey,
        body: { name, type: 'webhook', target, secretRef: 'secret://hook', severities: ['warning'] },
      });
      assert.is(added.status, 201);
    }
    assert.is(
      (
        await api.call('POST', '/v1/alerts', {
          key: t.adminKey,
          body: { type: 'disk.full', severity: 'warning', title: 'Disk almost full' },
        })
      ).status,
      202,
    );
    const page = await newestAlertWhen(api, t.adminKey, 'failed');
    assert.is(page.items[0]!.reason, 'rejected');
    assert.equal(
      page.items[0]!.deliveries.map((d) => [d.channel, d.outcome, d.reason, d.lastStatus, d.attempts]),
      [
        ['ok', 'delivered', null, 200, 1],
        ['refusing', 'failed', 'rejected', 400, 1],
      ],
    );
    const out: string[] = [];
    const io: CliIO = { out: (l) => out.push(l), err: (l) => out.push(l), isTTY: false };
    assert.is(await main(['alerts', 'log', '--tenant', t.id], io, { DATABASE_URL: api.db.url }), 0, out.join('\n'));
    assert.match(out[0]!, /\tfailed\trejected\twarning\tdisk\.full\t/);
    assert.match(out[1]!, /^  -> ok\tdelivered\t-\tattempts 1\tHTTP 200\t\d+ ms$/);
    assert.match(out[2]!, /^  -> refusing\tfailed\trejected\tattempts 1\tHTTP 400$/);
  } finally {
    await ok.close();
    await refusing.close();
  }
});

test.run();
