// Deliveries that wait, through the running workers: Telegram's 429 with
// parameters.retry_after (no Retry-After header) pauses the send for that long without
// spending an attempt; alerts deferred by quiet hours go out as exactly one digest per
// channel when the window ends. The clock is injected: quiet hours end ten minutes
// ahead, the test moves the clock past that and promotes the delayed digest (BullMQ's
// delays run on real time), as quiet-hours.test.ts does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../../lib/config.js';
import type { Alert } from '../../../lib/contracts/alert.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startAlertHarness, system, type AlertHarness } from '../../helpers/alert-harness.js';
import { superuserQuery } from '../../helpers/db.js';
import { captureLogs, REDIS_URL, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { promoteDelayedJobs } from '../../helpers/queues.js';
import { startTelegramServer, type TelegramServer } from '../../helpers/telegram-server.js';

// The injected clock runs at real speed, `offset` ahead of the system clock.
let offset = 0;
const clock = () => new Date(Date.now() + offset);
const logs = captureLogs();
let telegram: TelegramServer;
let h: AlertHarness;
let producer: Producer;
test.before(setup(async () => {
  telegram = await startTelegramServer();
  h = await startAlertHarness({ logs, config: { TELEGRAM_API_URL: telegram.baseUrl }, clock });
  producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: h.bulwark.ctx.config.queuePrefix, clock });
}));
test.after(cleanup([
  ['close producer', () => producer?.close()],
  ['close harness', () => h?.close()],
  ['close telegram server', () => telegram?.close()],
]));

async function send(tenantId: string, extra: Partial<Alert> = {}): Promise<string> {
  const { id: _generated, occurredAt: _now, source: _internal, ...alert } = h.alertFor(tenantId, extra);
  return (await producer.alert.send(alert)).alertId;
}
interface SendRow { outcome: string; reason: string | null; attempts: number; last_status: number | null }
const ledgerRow = async (id: string) =>
  (await superuserQuery(h.db.url, 'SELECT outcome, reason, attempts, last_status FROM alert_ledger WHERE id = $1', [id])).rows[0] as SendRow | undefined;
const channelRows = async (id: string) =>
  (await superuserQuery(h.db.url, 'SELECT channel, outcome, reason, attempts, last_status FROM alert_deliveries WHERE alert_id = $1 ORDER BY channel', [id])).rows as Array<SendRow & { channel: string }>;

test('telegram 429 with parameters.retry_after 1: sent again no earlier than 1 s later, no attempt spent, delivered', async () => {
  const { tenantId } = await h.tenantWithHooks('telegram-429', [], { cooldownSeconds: 0 });
  await setSecret(h.bulwark.ctx.prisma, requireMasterKeys(h.bulwark.ctx.config), { tenantId, name: 'bot', value: telegram.token }, system);
  await addChannel(h.bulwark.ctx.prisma, { tenantId, name: 'ops-chat', type: 'telegram', target: '-100200300', secretRef: 'secret://bot' }, system, LOOPBACK_TARGETS);
  telegram.rateLimitNext(1);
  const id = await send(tenantId, { title: 'Queue stuck' });
  await h.delivered(id, 30_000);
  await h.deliveriesIdle();
  const sends = telegram.requests.filter((r) => r.path === `/bot${telegram.token}/sendMessage`);
  assert.is(sends.length, 2, 'the refused send and the one after the pause');
  const waited = sends[1]!.receivedAt.getTime() - sends[0]!.receivedAt.getTime();
  assert.ok(waited >= 1000, `sent again ${waited} ms after the 429, before its retry_after of 1 s`);
  assert.is(telegram.messages.length, 1);
  assert.match(telegram.messages[0]!.plain, 'Queue stuck');
  const paused = logs.events().filter((e) => e.event === 'alert_channel_paused' && e.tenant_id === tenantId);
  assert.equal(paused.map((e) => [e.channel, e.retry_after_ms]), [['ops-chat', 1000]], 'paused for retry_after, not the 30 s default');
  const row = await ledgerRow(id);
  assert.equal([row?.outcome, row?.reason, row?.attempts, row?.last_status], ['delivered', null, 1, 200], 'the 429 spent no attempt');
  assert.equal((await channelRows(id)).map((d) => [d.channel, d.outcome, d.attempts, d.last_status]), [['ops-chat', 'delivered', 1, 200]]);
});

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

test('quiet hours with two channels: the deferred alerts go out as exactly one digest per channel when the window ends', async () => {
  // Quiet hours (UTC, the tenant's zone) end at the minute boundary ten minutes ahead of the test's clock.
  const now = Date.now();
  const boundary = Math.ceil((now + 10 * 60_000) / 60_000) * 60_000;
  offset = boundary - 10 * 60_000 - now;
  const quietHours = { enabled: true, start: hhmm(boundary - 3_600_000), end: hhmm(boundary), mode: 'defer', bypassSeverity: 'critical' };
  const { tenantId } = await h.tenantWithHooks('quiet-two', ['/quiet-a', '/quiet-b'], { cooldownSeconds: 0, quietHours });
  const ids = await Promise.all(['disk.full', 'queue.slow', 'cert.expiring'].map((type) => send(tenantId, { type, title: `${type} at night` })));
  await waitFor(async () => {
    const rows = await Promise.all(ids.map((id) => h.rowOf(id)));
    return rows.every((r) => r?.outcome === 'deferred') ? rows : undefined;
  }, 'three deferred alerts', 30_000);
  for (const id of ids) {
    const row = await h.rowOf(id);
    assert.equal([row?.reason, row?.defer_until?.getTime()], ['quiet_hours', boundary], 'deferred until quiet hours end');
  }
  await h.deliveriesIdle();
  assert.equal([h.hitsAt('/quiet-a'), h.hitsAt('/quiet-b')], [0, 0], 'nothing sent during quiet hours');

  offset = boundary + 1_000 - Date.now();
  assert.ok((await promoteDelayedJobs(h.bulwark.ctx.config.queuePrefix)).length > 0, 'the digest was waiting');
  for (const id of ids) await h.delivered(id, 30_000);
  await h.deliveriesIdle();
  assert.equal([h.hitsAt('/quiet-a'), h.hitsAt('/quiet-b')], [1, 1], 'one digest per channel');
  for (const path of ['/quiet-a', '/quiet-b']) {
    const digest = JSON.parse(h.requestsAt(path)[0]!.body) as { alertIds: string[]; title: string; items: unknown[] };
    assert.equal([...digest.alertIds].sort(), [...ids].sort(), `${path}: every deferred alert in the one digest`);
    assert.is(digest.items.length, 3);
    assert.match(digest.title, 'Digest: 3 alerts');
  }
  for (const id of ids) assert.equal((await channelRows(id)).map((d) => [d.channel, d.outcome, d.attempts]), [['hook-0', 'delivered', 1], ['hook-1', 'delivered', 1]]);
});

test.run();
