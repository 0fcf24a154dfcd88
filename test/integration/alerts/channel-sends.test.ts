// Alert delivery channels against real HTTP servers on loopback: a recording receiver
// (webhook and Slack) and a local Telegram Bot API. Request shapes, signatures, how each
// answer is classified (200/400/429/500/hang/refused), Retry-After, Telegram escaping,
// and no credential in any result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_RETRY_AFTER_MS, sendToChannel, retryAfterMs, escapeHtml, type SendOptions } from '../../../workers/alert/sending/channels/send.js';
import type { AlertMessage, ChannelTarget, SendResult } from '../../../workers/alert/sending/channels/types.js';
import { verifyWebhookSignature } from '../../../workers/alert/sending/channels/webhook-signature.js';
import { refusedUrl, replies, startReceiver, type Receiver } from '../../helpers/receiver.js';
import { startTelegramServer, type TelegramServer } from '../../helpers/telegram-server.js';
import { withTimeout } from '../../helpers/env.js';
import { messageFor, type MessageRow } from '../../../workers/alert/sending/message.js';

const WEBHOOK_SECRET = 'whsec-Integration-Secret-7f3a9c';
const SLACK_PATH = '/services/T0ACME/B0ALERTS/SlackSecretPath9x8y7z';
const NOW = new Date('2025-03-30T00:30:00Z');
const clock = () => NOW;

let receiver: Receiver;
let telegram: TelegramServer;
let slackUrl: string;
const results: SendResult[] = [];
const credentials = () => [WEBHOOK_SECRET, slackUrl, SLACK_PATH, 'SlackSecretPath9x8y7z', telegram.token, telegram.token.split(':')[1]!];

const message: AlertMessage = {
  tenantId: 'tenant-1',
  alertIds: ['al-1'],
  title: 'Disk almost full',
  text: 'db-1: 93% used',
  severity: 'high',
  runbookUrl: 'https://runbooks.example/disk?x=1&y=2',
};
const hook = (path = '/hook'): ChannelTarget => ({ type: 'webhook', url: `${receiver.url}${path}` });

/** Send, remember the result for the final no-credential check, and return it. */
async function send(target: ChannelTarget, credential: string, m: AlertMessage = message, options: SendOptions = {}): Promise<SendResult> {
  const r = await sendToChannel(target, credential, m, { now: clock, timeoutMs: 2000, telegramBaseUrl: telegram.baseUrl, allowPrivateTargets: true, ...options });
  results.push(r);
  return r;
}
const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

test.before(async () => {
  receiver = await startReceiver();
  telegram = await startTelegramServer({ knownChats: ['-100200300'] });
  slackUrl = `${receiver.url}${SLACK_PATH}`;
});
test.before.each(() => receiver.reset());
test.after(async () => {
  await receiver.close();
  await telegram.close();
});

test('webhook: signed JSON POST whose signature verifies; tampering, wrong secret and staleness do not', async () => {
  const digest: AlertMessage = { ...message, alertIds: ['al-1', 'al-2'], items: [{ id: 'al-1', type: 'disk.full', severity: 'high', title: 'a', occurredAt: '2025-03-30T00:00:00.000Z', labels: {}, runbookUrl: null }, { id: 'al-2', type: 'disk.full', severity: 'high', title: 'b', occurredAt: '2025-03-30T00:10:00.000Z', labels: { host: 'db-1' }, runbookUrl: null }] };
  assert.equal(await send(hook('/hooks/ops?x=1'), WEBHOOK_SECRET, digest), { ok: true, status: 200 });
  const [req] = await receiver.waitForRequests(1);
  assert.is(req!.method, 'POST');
  assert.is(req!.path, '/hooks/ops?x=1');
  assert.match(String(req!.headers['content-type']), /^application\/json/);
  assert.equal(json(req!.body), { version: 1, tenantId: 'tenant-1', alertIds: ['al-1', 'al-2'], severity: 'high', title: 'Disk almost full', text: 'db-1: 93% used', runbookUrl: message.runbookUrl, items: digest.items });
  assert.is(req!.headers['x-bulwark-timestamp'], String(NOW.getTime() / 1000));
  assert.not.match(JSON.stringify(req!.headers) + req!.body, WEBHOOK_SECRET);
  const check = (over: Partial<Parameters<typeof verifyWebhookSignature>[0]>) => verifyWebhookSignature({ secret: WEBHOOK_SECRET, body: req!.body, headers: req!.headers, now: NOW, ...over });
  assert.equal(check({}), { ok: true });
  assert.equal(check({ body: req!.body.replace('93%', '13%') }), { ok: false, reason: 'bad_signature' });
  assert.equal(check({ secret: 'whsec-someone-else' }), { ok: false, reason: 'bad_signature' });
  assert.equal(check({ now: new Date(NOW.getTime() + 301_000) }), { ok: false, reason: 'stale_timestamp' });
  assert.equal(check({ headers: { 'content-type': 'application/json' } }), { ok: false, reason: 'missing_headers' });
});

test('webhook: 200, 400, 500 and 429 are classified; one-shot replies go before the persistent one', async () => {
  receiver.always(replies.serverError);
  receiver.next(replies.ok, replies.badRequest, replies.tooMany('7'));
  assert.equal(await send(hook(), WEBHOOK_SECRET), { ok: true, status: 200 });
  const bad = await send(hook(), WEBHOOK_SECRET);
  assert.equal([bad.ok, !bad.ok && bad.status, !bad.ok && bad.retryable], [false, 400, false]);
  const limited = await send(hook(), WEBHOOK_SECRET);
  assert.equal([limited.ok, !limited.ok && limited.status, !limited.ok && limited.retryable, !limited.ok && limited.retryAfterMs], [false, 429, true, 7000]);
  for (let i = 0; i < 2; i++) {
    const failed = await send(hook(), WEBHOOK_SECRET);
    assert.equal([failed.ok, !failed.ok && failed.status, !failed.ok && failed.retryable], [false, 500, true]);
  }
  assert.is(receiver.requests.length, 5);
});

test('429 Retry-After as an HTTP date is measured from the injected clock; without one there is still a pause', async () => {
  receiver.next(replies.tooMany(new Date(NOW.getTime() + 120_000).toUTCString()), replies.tooMany());
  const dated = await send(hook(), WEBHOOK_SECRET);
  assert.is(!dated.ok && dated.retryAfterMs, 120_000);
  const bare = await send(hook(), WEBHOOK_SECRET);
  assert.ok(!bare.ok && bare.retryable && (bare.retryAfterMs ?? 0) > 0);
});

test('retryAfterMs parses seconds and HTTP dates, holds them to an hour, and ignores garbage', () => {
  assert.is(retryAfterMs('0', NOW), 0);
  assert.is(retryAfterMs(' 30 ', NOW), 30_000);
  assert.is(retryAfterMs(new Date(NOW.getTime() + 5000).toUTCString(), NOW), 5000);
  assert.is(retryAfterMs(new Date(NOW.getTime() - 5000).toUTCString(), NOW), 0);
  assert.is(retryAfterMs('soon', NOW), undefined);
  // A 429 pauses the whole channel: a receiver cannot hold it for more than an hour.
  assert.is(retryAfterMs('86400', NOW), MAX_RETRY_AFTER_MS);
  assert.is(retryAfterMs('99999999999999999999', NOW), MAX_RETRY_AFTER_MS);
  assert.is(retryAfterMs(new Date(NOW.getTime() + 7 * 86_400_000).toUTCString(), NOW), MAX_RETRY_AFTER_MS);
  assert.is(retryAfterMs('', NOW), undefined);
  assert.is(retryAfterMs(null, NOW), undefined);
});

test('a receiver that never answers times out (retryable, no status) after timeoutMs', async () => {
  receiver.always(replies.hang);
  const started = Date.now();
  const r = await send(hook(), WEBHOOK_SECRET, message, { timeoutMs: 300 });
  const took = Date.now() - started;
  assert.ok(!r.ok && r.retryable && r.status === undefined, JSON.stringify(r));
  // The message names the limit that fired: this call's 300 ms, not the 10 s default.
  assert.match(!r.ok ? r.error : '', 'timed out after 300 ms');
  assert.ok(took >= 250, `gave up after ${took} ms, before its limit`);
  assert.is(receiver.requests.length, 1);
});

test('a refused connection is retryable with no status', async () => {
  const r = await send({ type: 'webhook', url: `${await refusedUrl()}/hook` }, WEBHOOK_SECRET);
  assert.ok(!r.ok && r.retryable && r.status === undefined, JSON.stringify(r));
});

test('slack: POST {text} to the credential URL, with severity, title, text and the runbook link', async () => {
  assert.equal(await send({ type: 'slack' }, slackUrl), { ok: true, status: 200 });
  const [req] = await receiver.waitForRequests(1);
  assert.is(req!.method, 'POST');
  assert.is(req!.path, SLACK_PATH);
  assert.match(String(req!.headers['content-type']), /^application\/json/);
  assert.is(req!.headers['x-bulwark-signature'], undefined);
  const body = json(req!.body);
  assert.type(body.text, 'string');
  for (const part of ['HIGH', 'Disk almost full', 'db-1: 93% used', `<${message.runbookUrl}|Runbook>`]) assert.ok(String(body.text).includes(part), part);
  const noRunbook = await send({ type: 'slack' }, slackUrl, { ...message, runbookUrl: undefined });
  assert.ok(noRunbook.ok);
  assert.not.match(receiver.requests[1]!.body, 'Runbook');
});

test('slack: 400 fails for good, 500 and 429 are retryable; no webhook path in the results', async () => {
  receiver.next({ status: 400, body: 'invalid_payload' }, { status: 404, body: 'no_service' }, replies.serverError, replies.tooMany('2'));
  const statuses: Array<[number | undefined, boolean]> = [];
  for (let i = 0; i < 4; i++) {
    const r = await send({ type: 'slack' }, slackUrl);
    if (!r.ok) statuses.push([r.status, r.retryable]);
  }
  assert.equal(statuses, [[400, false], [404, false], [500, true], [429, true]]);
});

test('telegram: sendMessage to /bot<token>/, HTML-escaped text that Telegram parses back to the original', async () => {
  const m: AlertMessage = { ...message, title: 'Login <b>&</b> storm', text: '<b>&</b> 5 > 3 & "quoted"' };
  assert.equal(await send({ type: 'telegram', chatId: '-100200300' }, telegram.token, m), { ok: true, status: 200 });
  const req = telegram.requests.at(-1)!;
  assert.is(req.method, 'POST');
  assert.is(req.path, `/bot${telegram.token}/sendMessage`);
  const sent = telegram.messages.at(-1)!;
  assert.is(sent.chatId, '-100200300');
  assert.is(sent.parseMode, 'HTML');
  assert.ok(sent.text.includes('&lt;b&gt;&amp;&lt;/b&gt; 5 &gt; 3 &amp; "quoted"'), sent.text);
  assert.ok(sent.text.includes(`<a href="${escapeHtml(message.runbookUrl!)}">`), sent.text);
  assert.ok(sent.plain.includes('Login <b>&</b> storm'), sent.plain);
  assert.ok(sent.plain.includes('<b>&</b> 5 > 3 & "quoted"'), sent.plain);
  assert.is(escapeHtml('<b>&</b>'), '&lt;b&gt;&amp;&lt;/b&gt;');
});

test('telegram: 429 honours parameters.retry_after, then the next send goes through', async () => {
  telegram.rateLimitNext(3);
  const limited = await send({ type: 'telegram', chatId: '-100200300' }, telegram.token);
  assert.equal([limited.ok, !limited.ok && limited.status, !limited.ok && limited.retryable, !limited.ok && limited.retryAfterMs], [false, 429, true, 3000]);
  assert.equal(await send({ type: 'telegram', chatId: '-100200300' }, telegram.token), { ok: true, status: 200 });
});

test('telegram: a wrong token (401) or unknown chat (400) fails for good, the token never shown', async () => {
  const wrongToken = `${telegram.token.split(':')[0]}:WrongTokenValue123`;
  const unauthorized = await send({ type: 'telegram', chatId: '-100200300' }, wrongToken);
  assert.equal([unauthorized.ok, !unauthorized.ok && unauthorized.status, !unauthorized.ok && unauthorized.retryable], [false, 401, false]);
  assert.not.match(JSON.stringify(unauthorized), 'WrongTokenValue123');
  const unknownChat = await send({ type: 'telegram', chatId: '42' }, telegram.token);
  assert.equal([unknownChat.ok, !unknownChat.ok && unknownChat.status, !unknownChat.ok && unknownChat.retryable], [false, 400, false]);
  assert.match(!unknownChat.ok ? unknownChat.error : '', /chat not found/);
});

/** Ledger-like rows for a digest of `n` alerts with 200-character titles holding characters the channels escape. */
const digestRows = (n: number): MessageRow[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, type: 'disk.full', title: `Disk ${i} <&> ${'x'.repeat(180)}`.slice(0, 200), body: null,
    labels: {}, runbookUrl: i === 0 ? message.runbookUrl! : null, severity: 'warning', groupKey: 'disk.full', occurredAt: new Date('2025-03-30T00:00:00Z'),
  }));

test('telegram: a long alert and a digest of 300 alerts fit the 4,096 characters sendMessage takes, with a note and the runbook link', async () => {
  const long: AlertMessage = { ...message, title: 'T'.repeat(200), text: `${'body & more '.repeat(333)}\nlabels: ${'k=v, '.repeat(500)}` };
  for (const m of [long, messageFor('tenant-1', 'digest', digestRows(300))]) {
    const r = await send({ type: 'telegram', chatId: '-100200300' }, telegram.token, m);
    assert.equal(r, { ok: true, status: 200 }, JSON.stringify(r));
    const sent = telegram.messages.at(-1)!;
    assert.ok(sent.plain.length <= 4096, `${sent.plain.length} characters`);
    assert.ok(sent.plain.length > 3500, 'the room is used');
    assert.match(sent.plain, /more lines? left out to fit the channel; every alert is in the ledger/);
    assert.ok(sent.text.endsWith(`<a href="${escapeHtml(message.runbookUrl!)}">Runbook</a>`), 'the runbook link is kept');
  }
  assert.match(telegram.messages.at(-1)!.plain, /\n• Disk 0 <&> x+ \(2025-03-30T00:00:00.000Z\)\n/, 'a digest keeps whole lines');
});

test('slack: a digest of 1,000 alerts is cut to 40,000 characters as sent, keeping the runbook link at the end', async () => {
  assert.ok((await send({ type: 'slack' }, slackUrl, messageFor('tenant-1', 'digest', digestRows(1000)))).ok);
  const text = String(json(receiver.requests.at(-1)!.body).text);
  assert.ok(text.length <= 40_000, `${text.length} characters`);
  assert.match(text, /left out to fit the channel/);
  assert.ok(text.endsWith(`<${message.runbookUrl}|Runbook>`), text.slice(-80));
});

test('errors that quote the URL (network failures, bad base URL) are masked', async () => {
  const leaky: typeof fetch = async (input) => {
    throw new TypeError(`fetch failed for ${String(input)}`, { cause: new Error(`connect ECONNRESET ${String(input)}`) });
  };
  for (const [target, credential] of [[{ type: 'slack' }, slackUrl], [{ type: 'telegram', chatId: '1' }, telegram.token], [hook(), WEBHOOK_SECRET]] as const) {
    const r = await send(target, credential, message, { fetch: leaky });
    assert.ok(!r.ok && r.retryable, JSON.stringify(r));
  }
  const badBase = await send({ type: 'telegram', chatId: '1' }, telegram.token, message, { telegramBaseUrl: 'not a url' });
  assert.ok(!badBase.ok, JSON.stringify(badBase));
});

test('no credential appears in any result of this file', () => {
  assert.ok(results.length >= 25, `only ${results.length} results`);
  const all = JSON.stringify(results);
  for (const c of credentials()) assert.not.ok(all.includes(c), `a result contains ${c.slice(0, 6)}…`);
});

test('close() does not wait for a hung request; the send then fails as a network error, not a timeout', async () => {
  const r = await startReceiver({ reply: replies.hang });
  const pending = sendToChannel({ type: 'webhook', url: `${r.url}/x` }, WEBHOOK_SECRET, message, { timeoutMs: 60_000, allowPrivateTargets: true });
  await r.waitForRequests(1);
  // Hang guards only: a close that waited for the request would wait a minute.
  await withTimeout(r.close(), 10_000, 'receiver close with a hung socket');
  const result = await withTimeout(pending, 10_000, 'send after the receiver closed');
  assert.ok(!result.ok && result.retryable, JSON.stringify(result));
  assert.not.match(!result.ok ? result.error : '', 'timed out');
  assert.not.match(JSON.stringify(result), WEBHOOK_SECRET);
});

test.run();
