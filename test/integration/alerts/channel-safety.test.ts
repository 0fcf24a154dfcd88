// sendToChannel against local HTTP stand-ins (a webhook/Slack receiver and a Telegram Bot
// API server): alert text cannot inject Slack mentions or links, a quote in a runbook URL
// stays inside Telegram's href, an error never echoes the Slack webhook path, and a
// misconfigured channel fails for good before any request is sent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sendToChannel } from '../../../workers/alert/sending/channels/send.js';
import type { AlertMessage } from '../../../workers/alert/sending/channels/types.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { startTelegramServer, type TelegramServer } from '../../helpers/telegram-server.js';

const SLACK_PATH = '/services/T0ACME/B0ALERTS/SlackSecretPath9x8y7z';
const m: AlertMessage = { tenantId: 't', alertIds: ['a'], title: 'Ping <!channel> & <https://evil.example|click>', text: 'x', severity: 'high', runbookUrl: 'https://runbooks.example/a"b' };
let receiver: Receiver;
let telegram: TelegramServer;
test.before(async () => { receiver = await startReceiver(); telegram = await startTelegramServer(); });
test.after(async () => { await receiver.close(); await telegram.close(); });

test('slack: alert text cannot mention @channel or forge links', async () => {
  assert.ok((await sendToChannel({ type: 'slack' }, `${receiver.url}${SLACK_PATH}`, m, { allowPrivateTargets: true })).ok);
  const text = String((JSON.parse(receiver.requests.at(-1)!.body) as { text: string }).text);
  assert.not.ok(text.includes('<!channel>'), text);
  assert.ok(text.includes('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;'), text);
});

test('telegram: a quote in the runbook URL stays inside the href', async () => {
  const r = await sendToChannel({ type: 'telegram', chatId: '1' }, telegram.token, m, { telegramBaseUrl: telegram.baseUrl });
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(telegram.messages.at(-1)!.text.includes('href="https://runbooks.example/a&quot;b"'));
});

test('a receiver echoing the Slack path does not leak it', async () => {
  receiver.next({ status: 404, body: `no_service for ${SLACK_PATH}` });
  const r = await sendToChannel({ type: 'slack' }, `${receiver.url}${SLACK_PATH}`, m, { allowPrivateTargets: true });
  assert.ok(!r.ok && r.status === 404 && !r.retryable);
  assert.not.match(JSON.stringify(r), 'SlackSecretPath9x8y7z');
});

test('misconfigured channels fail for good without a request, and an empty credential is not "masked" letter by letter', async () => {
  const before = { receiver: receiver.requests.length, telegram: telegram.requests.length };
  // Each case has a server it would reach if the configuration were not checked first:
  // the receiver (webhook URL) or the Telegram stand-in (telegramBaseUrl).
  // The reason says what to fix: the secret (`credential`) or the channel (`misconfigured`).
  const withUser = receiver.url.replace('http://', 'http://user:pw@');
  const cases = [
    [{ type: 'webhook' }, 'sec', 'misconfigured'],
    [{ type: 'webhook', url: `${receiver.url}/hook` }, '', 'credential'],
    [{ type: 'webhook', url: `${withUser}/hook` }, 'sec', 'misconfigured'],
    [{ type: 'telegram' }, telegram.token, 'misconfigured'],
    [{ type: 'telegram', chatId: '1' }, '', 'credential'],
    [{ type: 'slack' }, '', 'credential'],
    [{ type: 'slack' }, 'not a url', 'credential'],
    [{ type: 'slack' }, `${withUser}/services/x`, 'credential'],
  ] as const;
  for (const [target, cred, reason] of cases) {
    const r = await sendToChannel(target, cred, m, { telegramBaseUrl: telegram.baseUrl });
    assert.ok(!r.ok && !r.retryable && !r.error.includes('[REDACTED]e'), JSON.stringify(r));
    assert.is(!r.ok && r.reason, reason, JSON.stringify([target, r]));
    assert.not.match(r.ok ? '' : r.error, 'pw@', 'a password in a URL is never in the error');
  }
  assert.equal({ receiver: receiver.requests.length, telegram: telegram.requests.length }, before, 'no request reached either server');
});

test.run();
