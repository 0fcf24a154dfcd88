// docs/api.md's "Webhook alerts (outgoing)" section against the code: messages built by
// messageFor and sent by sendToChannel to a real HTTP receiver carry exactly the field
// names of the three documented examples (one alert; a group; a fitted digest), with values of the same
// kind, and the documented signature headers; the documented receiver example, run as
// its own process, accepts a real signed send and refuses one signed with another secret.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendToChannel } from '../../../workers/alert/sending/channels/send.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../../../workers/alert/sending/channels/webhook-signature.js';
import { messageFor, type MessageRow } from '../../../workers/alert/sending/message.js';
import { waitFor } from '../../helpers/env.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

const SECRET = 'whsec-doc-test-4d9e1a';
const TENANT = '9b4def16-2de9-4431-a723-acbb300b5996';
const section = (() => {
  const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
  const start = doc.indexOf('\n## Webhook alerts (outgoing)\n');
  assert.ok(start >= 0, 'docs/api.md has a "Webhook alerts (outgoing)" section');
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
})();
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
const [docSingle, docGroup, docFitted] = blocks('json').map((b) => JSON.parse(b) as Record<string, unknown>);

const row = (over: Partial<MessageRow>): MessageRow => ({
  id: crypto.randomUUID(), type: 'disk.full', title: 'Disk almost full', body: 'db-1 is at 93%', labels: { volume: 'data', host: 'db-1' },
  runbookUrl: 'https://runbooks.example/disk.md', severity: 'high', groupKey: 'db-1', occurredAt: new Date('2026-11-26T20:40:00Z'), ...over,
});
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const shape = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, kind(v)]));

let receiver: Receiver;
test.before(async () => {
  receiver = await startReceiver();
});
test.after(async () => {
  await receiver.close();
});

async function sentBody(rows: MessageRow[], k: 'single' | 'group'): Promise<{ body: Record<string, unknown>; raw: string; headers: Record<string, string | string[] | undefined> }> {
  receiver.reset();
  const result = await sendToChannel({ type: 'webhook', url: `${receiver.url}/hook` }, SECRET, messageFor(TENANT, k, rows), { timeoutMs: 2000, allowPrivateTargets: true });
  assert.equal(result, { ok: true, status: 200 });
  const [req] = await receiver.waitForRequests(1);
  return { body: JSON.parse(req!.body) as Record<string, unknown>, raw: req!.body, headers: req!.headers };
}

test('one alert: the fields and their kinds are the documented ones', async () => {
  assert.ok(docSingle, 'the section has a JSON example of one alert');
  const { body } = await sentBody([row({})], 'single');
  assert.equal(Object.keys(body).sort(), Object.keys(docSingle!).sort());
  assert.equal(shape(body), shape(docSingle!));
  assert.is(body.text, docSingle!.text, 'body, then labels sorted by name, as documented');
  const [item] = body.items as Array<Record<string, unknown>>;
  const [docItem] = docSingle!.items as Array<Record<string, unknown>>;
  assert.equal(Object.keys(item!).sort(), Object.keys(docItem!).sort(), 'one alert is one item too');
  assert.equal(shape(item!), shape(docItem!));
  assert.equal(Object.keys(item!.labels as object), ['host', 'volume'], 'labels sorted by name');
});

test('a group: the fields, their kinds and the items\' fields are the documented ones', async () => {
  assert.ok(docGroup, 'the section has a JSON example of a group');
  const { body } = await sentBody([row({ runbookUrl: null }), row({ title: 'Replica lagging', severity: 'critical', runbookUrl: null, occurredAt: new Date('2026-11-26T20:41:00Z') })], 'group');
  assert.equal(Object.keys(body).sort(), Object.keys(docGroup!).sort());
  assert.equal(shape(body), shape(docGroup!));
  const [item] = body.items as Array<Record<string, unknown>>;
  const [docItem] = docGroup!.items as Array<Record<string, unknown>>;
  assert.equal(Object.keys(item!).sort(), Object.keys(docItem!).sort());
  for (const k of ['title', 'text', 'severity'] as const) assert.is(body[k], docGroup![k], k);
});

test('a digest of alerts with different runbooks: each item carries its own link, and each line whose link is not the message\'s names it', async () => {
  const other = 'https://runbooks.example/security-event.md';
  const rows = [row({}), row({ title: 'Auth failures', runbookUrl: other }), row({ title: 'No runbook', runbookUrl: null })];
  receiver.reset();
  assert.equal(await sendToChannel({ type: 'webhook', url: `${receiver.url}/hook` }, SECRET, messageFor(TENANT, 'digest', rows), { timeoutMs: 2000, allowPrivateTargets: true }), { ok: true, status: 200 });
  const body = JSON.parse((await receiver.waitForRequests(1))[0]!.body) as { runbookUrl: string; text: string; items: Array<{ runbookUrl: string | null }> };
  assert.is(body.runbookUrl, 'https://runbooks.example/disk.md');
  assert.equal(body.items.map((i) => i.runbookUrl), ['https://runbooks.example/disk.md', other, null]);
  assert.equal(body.text.split('\n'), [
    '• Disk almost full (2026-11-26T20:40:00.000Z)',
    `• Auth failures (2026-11-26T20:40:00.000Z) runbook: ${other}`,
    '• No runbook (2026-11-26T20:40:00.000Z)',
  ]);
});

test('a digest over WEBHOOK_MAX_BODY_BYTES: the fields, their kinds and the items\' fields are the documented fitted ones', async () => {
  assert.ok(docFitted, 'the section has a JSON example of a fitted body');
  assert.match(section, '`WEBHOOK_MAX_BODY_BYTES`');
  const labels = Object.fromEntries(Array.from({ length: 64 }, (_, j) => [`label_${j}`, 'v'.repeat(60)]));
  const rows = Array.from({ length: 1000 }, (_, i) => row({ title: `Disk ${i} almost full`, labels }));
  receiver.reset();
  assert.equal(await sendToChannel({ type: 'webhook', url: `${receiver.url}/hook` }, SECRET, messageFor(TENANT, 'digest', rows), { timeoutMs: 2000, webhookMaxBodyBytes: 64 * 1024, allowPrivateTargets: true }), { ok: true, status: 200 });
  const body = JSON.parse((await receiver.waitForRequests(1))[0]!.body) as Record<string, unknown>;
  assert.equal(Object.keys(body).sort(), Object.keys(docFitted!).sort());
  assert.equal(shape(body), shape(docFitted!));
  assert.is(body.omitted, 1000 - (body.items as unknown[]).length);
  assert.is(String(body.text).split('\n').at(-1), String(docFitted!.text).split('\n').at(-1)!.replace(/\d+/, String(body.text).match(/… (\d+) more/)![1]!), 'the note as documented');
  const [item] = body.items as Array<Record<string, unknown>>;
  const [docItem] = docFitted!.items as Array<Record<string, unknown>>;
  assert.equal(shape(item!), shape(docItem!));
});

test('the documented headers are the ones sent, and the signature verifies', async () => {
  const { raw, headers } = await sentBody([row({})], 'single');
  for (const h of [SIGNATURE_HEADER, TIMESTAMP_HEADER]) {
    assert.ok(headers[h], `${h} sent`);
    assert.match(section.toLowerCase(), `\`${h}\``, `${h} documented`);
  }
  assert.match(String(headers[SIGNATURE_HEADER]), /^v1=[0-9a-f]{64}$/);
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: raw, headers }), { ok: true });
});

test('the documented receiver accepts a real signed send and refuses another secret\'s', async () => {
  const [example] = blocks('js');
  assert.ok(example, 'the section has a receiver example');
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-webhook-doc-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    writeFileSync(join(dir, 'receiver.mjs'), example!);
    child = spawn(process.execPath, [join(dir, 'receiver.mjs')], { env: { ...process.env, PORT: String(port), BULWARK_WEBHOOK_SECRET: SECRET }, stdio: 'ignore' });
    const url = `http://127.0.0.1:${port}/bulwark`;
    await waitFor(() => fetch(url, { method: 'POST', body: '{}' }).then((r) => r.status === 401, () => false), 'the example receiver to listen', 10_000);
    const message = messageFor(TENANT, 'single', [row({})]);
    assert.equal(await sendToChannel({ type: 'webhook', url }, SECRET, message, { timeoutMs: 2000, allowPrivateTargets: true }), { ok: true, status: 204 });
    const refused = await sendToChannel({ type: 'webhook', url }, 'whsec-someone-else', message, { timeoutMs: 2000, allowPrivateTargets: true });
    assert.equal({ ok: refused.ok, status: refused.status }, { ok: false, status: 401 });
  } finally {
    child?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

test.run();
