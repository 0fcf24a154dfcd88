// SSRF guard: with ALERT_TARGETS_ALLOW_PRIVATE=false (the default) webhook and Slack
// channels cannot reach loopback, private or link-local hosts: literal ones are refused
// when the channel is added (API and CLI), host names when sending, with no request made.
import { test } from 'uvu';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import * as assert from 'uvu/assert';
import { main } from '../../../cli/main.js';
import type { CliIO } from '../../../cli/output.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { sendToChannel } from '../../../workers/alert/sending/channels/send.js';
import type { AlertMessage } from '../../../workers/alert/sending/channels/types.js';
import { newestAlertWhen, startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

let api: ApiHarness;
let receiver: Receiver;
let tenant: { id: string; adminKey: string };
const INTERNAL = ['http://127.0.0.1:9/x', 'http://[::1]:9/x', 'http://[::ffff:127.0.0.1]:9/x', 'http://169.254.169.254/latest/meta-data/', 'https://10.1.2.3/x', 'http://localhost:9/x'];
type ErrorBody = { error: { code: string; fields?: Array<{ path: string; message: string }> } };
const message: AlertMessage = { tenantId: 't', alertIds: ['a-1'], title: 'Disk almost full', text: 'db-1: 93% used', severity: 'high' };

test.before(async () => {
  api = await startApi({ ALERT_TARGETS_ALLOW_PRIVATE: 'false' });
  receiver = await startReceiver();
  tenant = await api.tenant('ssrf-tenant');
  await setSecret(api.bulwark.ctx.prisma, requireMasterKeys(api.bulwark.ctx.config), { tenantId: tenant.id, name: 'hook', value: 'ssrf-signing-secret' }, { type: 'user', id: 't' });
});
test.after(async () => {
  await receiver.close();
  await api.close();
});

test('POST /v1/channels: an internal literal target or localhost is a 400 naming target and the variable; public targets are added', async () => {
  for (const target of INTERNAL) {
    const res = await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { name: 'internal', type: 'webhook', target, secretRef: 'secret://hook' } });
    const body = (await res.json()) as ErrorBody;
    assert.is(res.status, 400, target);
    assert.equal(body.error.fields?.map((f) => f.path), ['target'], target);
    assert.match(body.error.fields![0]!.message, /alert targets must be public unless ALERT_TARGETS_ALLOW_PRIVATE=true/, target);
  }
  for (const [name, target] of [['by-ip', 'https://93.184.215.14/hook'], ['by-name', 'https://hooks.example/hook']]) {
    const res = await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { name, type: 'webhook', target, secretRef: 'secret://hook' } });
    assert.is(res.status, 201, `${target}: ${await res.text()}`);
  }
  assert.equal((await superuserQuery(api.db.url, 'SELECT name FROM alert_channels WHERE tenant_id = $1 ORDER BY name', [tenant.id])).rows.map((r) => r.name), ['by-ip', 'by-name']);
  for (const name of ['by-ip', 'by-name']) assert.is((await api.call('DELETE', `/v1/channels/${name}`, { key: tenant.adminKey })).status, 200);
});

test('bulwark channel add: an internal target exits 2 naming target; with ALERT_TARGETS_ALLOW_PRIVATE=true it is added', async () => {
  const err: string[] = [];
  const io: CliIO = { out: () => {}, err: (l) => err.push(l), isTTY: false };
  const args = (target: string) => ['channel', 'add', '--tenant', tenant.id, '--name', 'cli-hook', '--type', 'webhook', '--target', target, '--secret', 'secret://hook'];
  for (const target of INTERNAL) {
    err.length = 0;
    assert.is(await main(args(target), io, { DATABASE_URL: api.db.url }), 2, target);
    assert.match(err.join('\n'), /target.*ALERT_TARGETS_ALLOW_PRIVATE=true/, target);
  }
  assert.is(await main(args(`${receiver.url}/cli`), io, { DATABASE_URL: api.db.url, ALERT_TARGETS_ALLOW_PRIVATE: 'true' }), 0, err.join('\n'));
  assert.is(await main(['channel', 'remove', '--tenant', tenant.id, '--name', 'cli-hook'], io, { DATABASE_URL: api.db.url }), 0);
});

test('a stored channel whose host name resolves to loopback fails for good as misconfigured, and no request reaches it', async () => {
  const port = new URL(receiver.url).port;
  // Inserted directly: the add-time check refuses localhost; a DNS name could resolve
  // to loopback just as well after it was added.
  await superuserQuery(api.db.url, `INSERT INTO alert_channels (id, tenant_id, name, type, target, secret_ref, severities) VALUES (gen_random_uuid(), $1, 'sneaky', 'webhook', $2, 'secret://hook', '{warning}')`, [tenant.id, `http://localhost:${port}/internal`]);
  assert.is((await api.call('POST', '/v1/alerts', { key: tenant.adminKey, body: { type: 'disk.full', severity: 'warning', title: 'Disk almost full' } })).status, 202);
  const page = await newestAlertWhen(api, tenant.adminKey, 'failed');
  const d = page.items[0]!.deliveries[0]!;
  assert.equal([d.channel, d.outcome, d.reason, d.attempts], ['sneaky', 'failed', 'misconfigured', 1]);
  assert.match(d.lastError ?? '', /refused webhook target: its host localhost is a loopback name/);
  assert.is(receiver.requests.length, 0, 'no request reached the loopback receiver');
});

test('sendToChannel: a host name resolving to loopback, a Slack URL to loopback and an IPv4-mapped literal are refused before any request', async () => {
  const port = new URL(receiver.url).port;
  const cases = [
    [{ type: 'webhook', url: `http://localhost:${port}/a` }, 'secret', 'misconfigured'],
    [{ type: 'webhook', url: `http://[::ffff:127.0.0.1]:${port}/b` }, 'secret', 'misconfigured'],
    [{ type: 'slack' }, `${receiver.url}/services/T/B/x`, 'credential'],
  ] as const;
  for (const [target, credential, reason] of cases) {
    const r = await sendToChannel(target, credential, message, { timeoutMs: 2000 });
    assert.ok(!r.ok && !r.retryable && r.reason === reason && /^refused (webhook|slack) target: /.test(r.error), JSON.stringify(r));
  }
  assert.is(receiver.requests.length, 0);
});

test('a kept-alive connection opened without the guard is never lent to a guarded send', async () => {
  // This machine's own name resolves to loopback (/etc/hosts) and is no literal the
  // add-time check knows, so only the send-time lookup can refuse it.
  const name = hostname();
  const addresses = await lookup(name, { all: true });
  assert.ok(addresses.length > 0 && addresses.every((a) => a.address.startsWith('127.') || a.address === '::1'), `${name} must resolve to loopback here: ${JSON.stringify(addresses)}`);
  const url = `http://${name}:${new URL(receiver.url).port}/pooled`;
  const before = receiver.requests.length;
  const allowed = await sendToChannel({ type: 'webhook', url }, 'secret', message, { timeoutMs: 2000, allowPrivateTargets: true });
  assert.ok(allowed.ok, JSON.stringify(allowed));
  assert.is(receiver.requests.length, before + 1, 'the unguarded send went out and left its connection open');
  const guarded = await sendToChannel({ type: 'webhook', url }, 'secret', message, { timeoutMs: 2000 });
  assert.ok(!guarded.ok && guarded.reason === 'misconfigured' && /resolves to 127\./.test(guarded.error), JSON.stringify(guarded));
  assert.is(receiver.requests.length, before + 1, 'the guarded send did not go out on the open connection');
});

test('a redirect is not followed (even where private targets are allowed): the 3xx is the answer', async () => {
  const target = await startReceiver({ reply: { status: 302, headers: { location: `${receiver.url}/moved` } } });
  const before = receiver.requests.length;
  try {
    const r = await sendToChannel({ type: 'webhook', url: `${target.url}/hook` }, 'secret', message, { timeoutMs: 2000, allowPrivateTargets: true });
    assert.ok(!r.ok && r.status === 302 && !r.retryable, JSON.stringify(r));
    assert.is(target.requests.length, 1);
    assert.is(receiver.requests.length, before, 'the redirect target got nothing');
  } finally {
    await target.close();
  }
});

test.run();
