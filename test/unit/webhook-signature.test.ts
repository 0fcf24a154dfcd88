// Signed webhooks: HMAC-SHA256 over `v1:<timestamp>:<body>` (the Bematic seed's Slack
// scheme with our own version tag), checked with a 5-minute tolerance on an injected clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook, verifyWebhookSignature } from '../../workers/alert/sending/channels/webhook-signature.js';

const SECRET = 'whsec-unit-Secret-0123456789';
const BODY = JSON.stringify({ version: 1, tenantId: 't1', alertIds: ['a1'], title: 'Disk full', text: 'ünïcode ✓' });
const TS = 1_700_000_000;
const at = (sec: number) => new Date(sec * 1000);

test('signWebhook produces v1=<hex HMAC-SHA256 of v1:ts:body> and the timestamp header', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  const expected = createHmac('sha256', SECRET).update(`v1:${TS}:${BODY}`).digest('hex');
  assert.equal(headers, { 'x-bulwark-signature': `v1=${expected}`, 'x-bulwark-timestamp': String(TS) });
  assert.is(SIGNATURE_HEADER, 'x-bulwark-signature');
  assert.is(TIMESTAMP_HEADER, 'x-bulwark-timestamp');
  // A fixed vector, so a change of scheme cannot pass unnoticed.
  assert.is(signWebhook('k', 'b', 1)['x-bulwark-signature'], `v1=${createHmac('sha256', 'k').update('v1:1:b').digest('hex')}`);
  assert.not.match(JSON.stringify(headers), SECRET);
});

test('a correct signature verifies, at the edge of the tolerance too', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS) }), { ok: true });
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS + 300) }), { ok: true });
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS - 300) }), { ok: true });
});

test('a tampered body is rejected, even by one byte or whitespace', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  for (const body of [BODY.replace('Disk', 'Dusk'), `${BODY} `, BODY.slice(0, -1), '']) {
    assert.equal(verifyWebhookSignature({ secret: SECRET, body, headers, now: at(TS) }), { ok: false, reason: 'bad_signature' }, body);
  }
});

test('a wrong secret or a tampered timestamp is rejected', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  assert.equal(verifyWebhookSignature({ secret: `${SECRET}x`, body: BODY, headers, now: at(TS) }), { ok: false, reason: 'bad_signature' });
  const moved = { ...headers, [TIMESTAMP_HEADER]: String(TS + 10) };
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers: moved, now: at(TS) }), { ok: false, reason: 'bad_signature' });
  const flipped = headers[SIGNATURE_HEADER]!.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers: { ...headers, [SIGNATURE_HEADER]: flipped }, now: at(TS) }), { ok: false, reason: 'bad_signature' });
});

test('a timestamp more than 5 minutes off (either way) is stale, even with a valid signature', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS + 301) }), { ok: false, reason: 'stale_timestamp' });
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS - 301) }), { ok: false, reason: 'stale_timestamp' });
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS + 3600) }), { ok: false, reason: 'stale_timestamp' });
  // The real clock is years after TS.
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers }), { ok: false, reason: 'stale_timestamp' });
});

test('toleranceSec narrows or widens the window', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS + 31), toleranceSec: 30 }), { ok: false, reason: 'stale_timestamp' });
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers, now: at(TS + 900), toleranceSec: 900 }), { ok: true });
});

test('missing headers are named as such', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  const only = (name: string) => ({ [name]: headers[name] });
  for (const h of [{}, only(SIGNATURE_HEADER), only(TIMESTAMP_HEADER), { [SIGNATURE_HEADER]: '', [TIMESTAMP_HEADER]: String(TS) }]) {
    assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers: h, now: at(TS) }), { ok: false, reason: 'missing_headers' });
  }
});

test('malformed headers are bad_format, and a short signature does not throw', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  const sig = headers[SIGNATURE_HEADER]!;
  const cases: Array<Record<string, string>> = [
    { ...headers, [SIGNATURE_HEADER]: 'v1=abc' },
    { ...headers, [SIGNATURE_HEADER]: sig.replace('v1=', 'v0=') },
    { ...headers, [SIGNATURE_HEADER]: sig.toUpperCase() },
    { ...headers, [SIGNATURE_HEADER]: `${sig}00` },
    { ...headers, [TIMESTAMP_HEADER]: 'soon' },
    { ...headers, [TIMESTAMP_HEADER]: '-1' },
    { ...headers, [TIMESTAMP_HEADER]: `${TS}.5` },
  ];
  for (const h of cases) assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers: h, now: at(TS) }), { ok: false, reason: 'bad_format' }, JSON.stringify(h));
});

test('Node-style header values (arrays, undefined) are accepted', () => {
  const headers = signWebhook(SECRET, BODY, TS);
  const nodeHeaders = { [SIGNATURE_HEADER]: [headers[SIGNATURE_HEADER]!], [TIMESTAMP_HEADER]: headers[TIMESTAMP_HEADER], host: undefined };
  assert.equal(verifyWebhookSignature({ secret: SECRET, body: BODY, headers: nodeHeaders, now: at(TS) }), { ok: true });
});

test.run();
