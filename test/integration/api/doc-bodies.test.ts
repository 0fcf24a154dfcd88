// docs/api.md against the real server: every route in its "Success bodies at a glance"
// table answers with the documented status and top-level fields, and the documented
// examples (audit item, ledger item and its deliveries, channel, settings, tenant) have
// the field names the routes return, so the document cannot drift from the code silently.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { waitFor } from '../../helpers/env.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');

/** The rows of the glance table: "METHOD /path" → status and top-level body fields. */
const glance = (() => {
  const start = doc.indexOf('Success bodies at a glance');
  assert.ok(start >= 0, 'docs/api.md has the "Success bodies at a glance" table');
  const rows = new Map<string, { status: number; fields: string[] }>();
  for (const line of doc.slice(start, doc.indexOf('\n\n', doc.indexOf('\n|', start) + 1)).split('\n')) {
    const m = /^\| (.+?) \| (\d{3}) \| (.+) \|$/.exec(line);
    if (!m) continue;
    const path = /\/v1\/[\w/:]+/.exec(m[1]!)![0];
    const fields = [...m[3]!.matchAll(/"(\w+)"/g)].map((f) => f[1]!);
    for (const method of m[1]!.match(/\b(GET|POST|PATCH|DELETE)\b/g) ?? []) rows.set(`${method} ${path}`, { status: Number(m[2]), fields });
  }
  return rows;
})();

/** Field names, recursively (an array stands for its first element), as sorted dotted paths. */
function shape(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.length ? shape(value[0], `${prefix}[]`) : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...shape(v, `${prefix}${k}.`)]).sort();
}

/** The JSON examples of the section whose heading starts with `heading`; keys-only sketches give their names. */
function examples(heading: string): unknown[] {
  const start = doc.indexOf(`\n### ${heading}`);
  assert.ok(start >= 0, `docs/api.md has a "${heading}" section`);
  const end = doc.indexOf('\n##', start + 1);
  return [...doc.slice(start, end).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
}
const parsed = (heading: string, i = 0) => JSON.parse(examples(heading)[i] as string) as unknown;

let api: ApiHarness;
let receiver: Receiver;
let key: string;
const seen = new Set<string>();

async function call(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Record<string, unknown>> {
  const route = `${method} ${path.split('?')[0]!.replace(/\/v1\/channels\/[^/]+$/, '/v1/channels/:name')}`;
  const expected = glance.get(route);
  assert.ok(expected, `${route} is in the glance table`);
  const res = await api.call(method, path, { key, ...options });
  const text = await res.text();
  assert.is(res.status, expected!.status, `${route}: ${text}`);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(Object.keys(body).sort(), [...expected!.fields].sort(), `${route}: top-level fields`);
  seen.add(route);
  return body;
}

test.before(async () => {
  api = await startApi();
  receiver = await startReceiver();
});
test.after(async () => {
  await receiver?.close();
  await api?.close();
});

test('tenants, settings and channels answer as documented', async () => {
  const created = await call('POST', '/v1/tenants', { body: { name: 'doc-bodies', timezone: 'Europe/Berlin' }, headers: { authorization: basic(OPERATOR.username, OPERATOR.password) } });
  assert.equal(shape(created), shape(parsed('`POST /v1/tenants`')));
  key = (created.adminKey as { key: string }).key;
  const tenantId = (created.tenant as { id: string }).id;
  const settings = parsed('`GET /v1/settings`');
  assert.equal(shape(await call('GET', '/v1/settings')), shape(settings));
  assert.equal(shape(await call('PATCH', '/v1/settings', { body: { api: { requestsPerWindow: 1000 } } })), shape(settings));
  await setSecret(api.bulwark.ctx.prisma, requireMasterKeys(api.bulwark.ctx.config), { tenantId, name: 'hook', value: 'doc-bodies-signing-secret' }, { type: 'user', id: 'test' });
  const channel = { channel: parsed('`GET /v1/channels`') };
  assert.equal(shape(await call('POST', '/v1/channels', { body: { name: 'spare', type: 'webhook', target: `${receiver.url}/spare`, secretRef: 'secret://hook' } })), shape(channel));
  assert.equal(shape(await call('POST', '/v1/channels', { body: { name: 'ops', type: 'webhook', target: `${receiver.url}/ops`, secretRef: 'secret://hook' } })), shape(channel));
  assert.equal(shape(await call('GET', '/v1/channels')), shape({ channels: [channel.channel] }));
  assert.equal(shape(await call('DELETE', '/v1/channels/spare')), shape(channel));
});

test('audit writes and the audit list answer as documented', async () => {
  const entry = { actorType: 'user', actorId: 'u-1', action: 'task:completed', resourceType: 'task', resourceId: 't-9' };
  await call('POST', '/v1/audit', { body: entry });
  await call('POST', '/v1/audit/batch', { body: { entries: [entry, entry] } });
  const item = parsed('`GET /v1/audit`');
  const list = await waitFor(async () => {
    const res = await api.call('GET', '/v1/audit?action=task:completed&limit=2', { key });
    const body = (await res.json()) as { items: unknown[]; nextCursor: unknown };
    return body.items.length === 2 && body;
  }, 'the audit entries to be written');
  assert.equal(shape(list), shape({ items: [item], nextCursor: '1' }));
  assert.type(list.nextCursor, 'string', 'three entries, two per page: a next page');
  await call('GET', '/v1/audit?limit=2');
});

test('an alert and the ledger answer as documented, deliveries included', async () => {
  await call('POST', '/v1/alerts', { body: { type: 'disk.full', severity: 'high', title: 'Disk almost full' } });
  await receiver.waitForRequests(1, 15_000);
  const sketch = examples('`GET /v1/alerts`')[0] as string;
  const names = (text: string) => [...text.matchAll(/"(\w+)"/g)].map((m) => m[1]!);
  const [top, deliveries] = sketch.split('"deliveries"');
  const ledger = await waitFor(async () => {
    const res = await api.call('GET', '/v1/alerts', { key });
    if (res.status !== 200) throw new Error(`GET /v1/alerts: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { items: Array<{ outcome: string; deliveries: unknown[] }> };
    return body.items[0]?.outcome === 'delivered' && body;
  }, 'the alert to be delivered');
  const item = ledger.items[0] as unknown as Record<string, unknown>;
  assert.equal(Object.keys(item).sort(), [...names(top!), 'deliveries'].sort());
  assert.equal(Object.keys((item.deliveries as Array<Record<string, unknown>>)[0]!).sort(), names(deliveries!).sort());
  await call('GET', '/v1/alerts');
});

test('every route of the glance table was called', () => {
  assert.equal([...seen].sort(), [...glance.keys()].sort());
});

test.run();
