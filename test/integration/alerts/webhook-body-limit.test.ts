// The webhook body limit (WEBHOOK_MAX_BODY_BYTES), against a real loopback receiver
// that answers 413 to a body over the limit, as Slack and most proxies do. A group or
// digest of 1,000 alerts with 64 labels each (megabytes as JSON) arrives under the
// limit, valid and signed, every id in alertIds, the leading items whole and `omitted`
// counting the rest; through the real digest job every alert's row ends delivered. A
// message within the limit is the body it always was, byte for byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from 'bullmq';
import { sendToChannel } from '../../../workers/alert/sending/channels/send.js';
import type { AlertMessage } from '../../../workers/alert/sending/channels/types.js';
import { verifyWebhookSignature } from '../../../workers/alert/sending/channels/webhook-signature.js';
import { processDelivery } from '../../../workers/alert/jobs/delivery.js';
import { messageFor, type MessageRow } from '../../../workers/alert/sending/message.js';
import { HOOK_SECRET, startAlertHarness, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { setup } from '../../helpers/lifecycle.js';

const LIMIT = 256 * 1024; // the default of WEBHOOK_MAX_BODY_BYTES
const TENANT = '9b4def16-2de9-4431-a723-acbb300b5996';
const NOTE = /\n… \d+ more lines? left out to fit the channel; every alert is in the ledger \(bulwark alerts log\)$/;

let h: AlertHarness;
test.before(setup(async () => void (h = await startAlertHarness({ receiver: { maxBodyBytes: LIMIT } }))));
test.after(() => h?.close());
test.before.each(() => h.receiver.reset());

/** 64 labels of 40 characters: about 3.5 KB per item. */
const manyLabels = (i: number) => Object.fromEntries(Array.from({ length: 64 }, (_, j) => [`label_${String(j).padStart(2, '0')}`, `${i}-${'v'.repeat(36)}`]));
/** `n` ledger-like rows with 200-character titles, many labels, a body, and a runbook of their own every other one. */
const bigRows = (n: number): MessageRow[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, type: 'disk.full', title: `Disk ${i} "quoted" <&> ${'x'.repeat(200)}`.slice(0, 200), body: 'b'.repeat(500),
    labels: manyLabels(i), runbookUrl: i % 2 === 0 ? `https://runbooks.example/disk-${i}.md` : null, severity: 'warning', groupKey: 'db-1', occurredAt: new Date('2026-11-26T20:40:00Z'),
  }));

/** The body as the webhook channel built it before the limit existed. */
const unlimitedBody = (m: AlertMessage) => JSON.stringify({ version: 1, tenantId: m.tenantId, alertIds: m.alertIds, severity: m.severity, title: m.title, text: m.text, runbookUrl: m.runbookUrl ?? null, items: m.items ?? [] });

interface Fitted { alertIds: string[]; text: string; runbookUrl: string | null; items: NonNullable<AlertMessage['items']>; omitted?: number }

/** Send through the webhook channel; the one request the receiver got, checked for size and signature, parsed. */
async function sent(m: AlertMessage, maxBytes?: number): Promise<{ raw: string; body: Fitted }> {
  const result = await sendToChannel({ type: 'webhook', url: `${h.receiver.url}/limit` }, HOOK_SECRET, m, { timeoutMs: 5000, webhookMaxBodyBytes: maxBytes, allowPrivateTargets: true });
  assert.equal(result, { ok: true, status: 200 }, JSON.stringify(result));
  const [req] = await h.receiver.waitForRequests(1);
  assert.ok(Buffer.byteLength(req!.body) <= (maxBytes ?? LIMIT), `${Buffer.byteLength(req!.body)} bytes`);
  assert.equal(verifyWebhookSignature({ secret: HOOK_SECRET, body: req!.body, headers: req!.headers }), { ok: true }, 'signed over the body as sent');
  return { raw: req!.body, body: JSON.parse(req!.body) as Fitted };
}

/** What every fitted body of `m` holds: every id, leading items whole, the rest counted, the text's lines whole. */
function assertFitted(m: AlertMessage, raw: string, body: Fitted, maxBytes: number): void {
  assert.equal(body.alertIds, m.alertIds, 'alertIds names every alert');
  assert.is(body.runbookUrl, m.runbookUrl ?? null);
  assert.equal(body.items, m.items!.slice(0, body.items.length), 'the leading items, each whole (labels and runbook link)');
  assert.is(body.omitted, m.alertIds.length - body.items.length);
  const kept = body.text.replace(NOTE, '');
  assert.ok(m.text.startsWith(kept), 'the text is a leading part of the original');
  // A line per alert: a group or digest loses whole alerts (one alert's lines are few and long, fit.ts may cut within one).
  if (m.alertIds.length > 1) assert.ok(kept === '' || m.text.length === kept.length || m.text[kept.length] === '\n', 'cut at the end of a line');
  assert.ok(Buffer.byteLength(raw) > maxBytes - 8 * 1024, `the room is used: ${Buffer.byteLength(raw)} bytes`);
}

test('a digest of 1,000 alerts with 64 labels each arrives under the limit: valid, signed, every id, leading items whole, omitted counted', async () => {
  const m = messageFor(TENANT, 'digest', bigRows(1000));
  assert.ok(Buffer.byteLength(unlimitedBody(m)) > 10 * LIMIT, 'megabytes unfitted');
  const { raw, body } = await sent(m);
  assertFitted(m, raw, body, LIMIT);
  assert.ok(body.items.length >= 20 && body.omitted! > 900, `${body.items.length} items kept, ${body.omitted} omitted`);
  assert.match(body.text, NOTE);
  assert.ok(body.items.every((i, n) => Object.keys(i.labels).length === 64 && i.runbookUrl === (n % 2 === 0 ? `https://runbooks.example/disk-${n}.md` : null)), 'each kept item keeps its labels and runbook link');
});

test('a group of 1,000 alerts at a limit of 64 KiB (the smallest allowed) still names every alert and keeps what fits', async () => {
  const m = messageFor(TENANT, 'group', bigRows(1000));
  const { raw, body } = await sent(m, 64 * 1024);
  assertFitted(m, raw, body, 64 * 1024);
  assert.ok(body.items.length >= 1, `${body.items.length} items kept`);
});

test('one alert larger than the limit (escaped control characters): its text is cut and its item counted as omitted, its runbook link kept', async () => {
  const labels = Object.fromEntries(Array.from({ length: 64 }, (_, j) => [`k${j}`, '\u0001'.repeat(256)]));
  const m = messageFor(TENANT, 'single', [{ ...bigRows(1)[0]!, labels }]);
  const { raw, body } = await sent(m, 64 * 1024);
  assertFitted(m, raw, body, 64 * 1024);
  assert.equal([body.items.length, body.omitted], [0, 1]);
  assert.is(body.runbookUrl, 'https://runbooks.example/disk-0.md');
});

test('a message within the limit is the body it always was, byte for byte; one byte over, it is fitted', async () => {
  for (const m of [messageFor(TENANT, 'single', bigRows(1)), messageFor(TENANT, 'digest', bigRows(3))]) {
    h.receiver.reset();
    assert.is((await sent(m)).raw, unlimitedBody(m));
  }
  const m = messageFor(TENANT, 'digest', bigRows(30));
  const size = Buffer.byteLength(unlimitedBody(m));
  h.receiver.reset();
  assert.is((await sent(m, size)).raw, unlimitedBody(m), 'exactly at the limit: unchanged');
  h.receiver.reset();
  const { raw, body } = await sent(m, size - 1);
  assert.equal(body.alertIds, m.alertIds);
  assert.is(body.omitted, m.alertIds.length - body.items.length);
  assert.ok(body.omitted! >= 1 && Buffer.byteLength(raw) <= size - 1);
});

test('through the digest job: 1,000 deferred alerts with many labels reach the receiver in one fitted, signed message, and every row is delivered', async () => {
  const { tenantId } = await h.tenantWithHooks('big-labels', ['/digest']);
  const until = new Date(Date.now() - 1000);
  const ids: string[] = [];
  for (const [i, r] of bigRows(1000).entries()) {
    const a = h.alertFor(tenantId, { title: r.title, body: r.body ?? undefined, labels: manyLabels(i), runbookUrl: r.runbookUrl ?? undefined, occurredAt: new Date(Date.parse('2026-11-26T20:40:00Z') + i * 1000).toISOString() });
    ids.push(a.id);
    await h.ctx.ledger.receive(a, new Date());
  }
  await h.ctx.ledger.apply(ids, { outcome: 'deferred', reason: 'quiet_hours', deferUntil: until });
  await processDelivery({ name: 'digest', data: { v: 1, tenantId, until: until.toISOString() } } as unknown as Job, h.ctx);
  const delivered = async () => (await superuserQuery(h.db.url, `SELECT count(*)::int AS n FROM alert_ledger WHERE id = ANY($1::uuid[]) AND outcome = 'delivered'`, [ids])).rows[0].n as number;
  await waitFor(async () => ((await delivered()) === 1000) || undefined, 'all 1,000 rows delivered', 30_000);
  await h.deliveriesIdle();
  const reqs = h.requestsAt('/digest');
  assert.is(reqs.length, 1, 'one message, not refused');
  const raw = reqs[0]!.body;
  assert.ok(Buffer.byteLength(raw) <= LIMIT, `${Buffer.byteLength(raw)} bytes`);
  assert.equal(verifyWebhookSignature({ secret: HOOK_SECRET, body: raw, headers: reqs[0]!.headers }), { ok: true });
  const body = JSON.parse(raw) as Fitted;
  assert.equal(body.alertIds, ids, 'every alert, in order');
  assert.equal(body.items.map((i) => i.id), ids.slice(0, body.items.length));
  assert.is(body.omitted, 1000 - body.items.length);
  assert.ok(body.omitted! > 0);
  const channelRows = (await superuserQuery(h.db.url, `SELECT outcome, count(*)::int AS n FROM alert_deliveries WHERE alert_id = ANY($1::uuid[]) GROUP BY outcome`, [ids])).rows;
  assert.equal(channelRows, [{ outcome: 'delivered', n: 1000 }], 'each alert\'s channel row delivered too');
});

test.run();
