// Quiet hours in the tenant's zone: a warning inside them is deferred and sent as one
// digest when they end; a critical alert bypasses them. Telegram delivery goes to a
// local server that answers the Bot API's sendMessage shape.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor } from '../../helpers/env.js';
import { bulwarkTeardown, cleanup } from '../../helpers/lifecycle.js';
import { promoteDelayedJobs } from '../../helpers/queues.js';

const BOT_TOKEN = '123456:AAF-very-secret-bot-token';
let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let telegram: Server;
const messages: Array<{ chat_id: string; text: string; parse_mode: string }> = [];
const logs = captureLogs();
const system = { type: 'system' as const, id: 'test' };

// The test's clock sits ten minutes before a minute boundary in Europe/Berlin, where
// quiet hours end; the test then moves it past the boundary and promotes the delayed
// digest (BullMQ's delays run on real time), so no step races a real-time deadline.
let boundary = 0;
let offset = 0;
const clock = () => new Date(Date.now() + offset);
/** Put the test clock `leadMs` before the next minute boundary (quiet hours end there). */
function beforeBoundary(leadMs: number): void {
  const now = Date.now();
  boundary = Math.ceil((now + leadMs) / 60_000) * 60_000;
  offset = boundary - leadMs - now;
}
const hhmm = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));

test.before(async () => {
  telegram = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url !== `/bot${BOT_TOKEN}/sendMessage`) return res.writeHead(401).end(JSON.stringify({ ok: false, error_code: 401, description: 'Unauthorized' }));
      messages.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: { message_id: messages.length } }));
    });
  });
  await new Promise<void>((r) => telegram.listen(0, '127.0.0.1', r));
  db = await createTestDatabase();
  const config = testConfig(db.url, { SETTINGS_CACHE_MS: '0', LOG_LEVEL: 'info', TELEGRAM_API_URL: `http://127.0.0.1:${(telegram.address() as AddressInfo).port}` });
  bulwark = await startBulwark(config, { http: false, scheduler: false, clock, logDestination: logs.stream });
  producer = createProducer({ queuePrefix: config.queuePrefix, clock });
});
test.after(cleanup([...bulwarkTeardown(() => ({ producer, bulwark, db })), ['close telegram server', () => new Promise((r) => telegram.close(r))]]));

test('inside quiet hours a warning is deferred and sent as one digest at their end; critical bypasses', async () => {
  const t = await createTenant(bulwark.ctx.prisma, { name: 'quiet', timezone: 'Europe/Berlin' });
  beforeBoundary(10 * 60_000);
  await updateTenantSettings(bulwark.ctx.prisma, t.id, {
    alerts: { cooldownSeconds: 0, userThrottle: { limit: 0 }, quietHours: { enabled: true, start: hhmm(boundary - 3_600_000), end: hhmm(boundary), mode: 'defer', bypassSeverity: 'critical' } },
  }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'bot', value: BOT_TOKEN }, system);
  await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: 'ops-chat', type: 'telegram', target: '-100200300', secretRef: 'secret://bot' }, system, LOOPBACK_TARGETS);
  await producer.alert.send({ tenantId: t.id, type: 'queue.slow', severity: 'warning', title: 'Queue <slow> & late' });
  await producer.alert.send({ tenantId: t.id, type: 'queue.stuck', severity: 'warning', title: 'Queue stuck' });
  await producer.alert.send({ tenantId: t.id, type: 'breach', severity: 'critical', title: 'Possible breach' });
  const deferred = await waitFor(async () => {
    const r = (await superuserQuery(db.url, `SELECT outcome, defer_until FROM alert_ledger WHERE tenant_id = $1 AND severity = 'warning'`, [t.id])).rows;
    return r.length === 2 && r.every((x) => x.outcome === 'deferred') ? r : undefined;
  }, 'two deferred warnings');
  assert.is(new Date(deferred[0].defer_until).getTime(), boundary, 'deferred until the end of quiet hours');
  await waitFor(async () => messages.some((m) => m.text.includes('Possible breach')) || undefined, 'the critical alert at once');
  assert.is(messages.length, 1, 'only the critical one went out during quiet hours');
  offset = boundary + 1_000 - Date.now();
  await promoteDelayedJobs(bulwark.ctx.config.queuePrefix);
  await waitFor(async () => messages.length === 2 || undefined, 'the digest', 20_000);
  const digest = messages[1]!;
  assert.match(digest.text, 'Digest: 2 alerts');
  assert.match(digest.text, 'Queue &lt;slow&gt; &amp; late', 'HTML escaped for parse_mode HTML');
  assert.is(digest.parse_mode, 'HTML');
  assert.is(digest.chat_id, '-100200300');
  // The message arrives before the job records its answer: wait for the rows.
  await waitFor(async () => (await superuserQuery(db.url, `SELECT outcome FROM alert_ledger WHERE tenant_id = $1`, [t.id])).rows.every((r) => r.outcome === 'delivered') || undefined, 'every row delivered');
  assert.ok(logs.events().some((e) => e.event === 'alert_deferred'));
  assert.not.match(logs.text(), BOT_TOKEN);
});

test('a critical security audit entry raises an alert through the same policy', async () => {
  const t = await createTenant(bulwark.ctx.prisma, { name: 'security', timezone: 'UTC' });
  await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { cooldownSeconds: 0 } }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'bot', value: BOT_TOKEN }, system);
  await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: 'sec-chat', type: 'telegram', target: '-100999', secretRef: 'secret://bot', severities: ['high', 'critical'] }, system, LOOPBACK_TARGETS);
  await producer.audit.write({ tenantId: t.id, actorType: 'user', actorId: 'mallory', action: 'security:auth-failed', severity: 'critical', resourceType: 'session' });
  await waitFor(async () => messages.some((m) => m.chat_id === '-100999' && m.text.includes('security:auth-failed')) || undefined, 'the security alert');
});

test('quiet hours follow alerts.quietHours.timezone when set, changed live; a tenant created in UTC can move them to Berlin', async () => {
  const t = await createTenant(bulwark.ctx.prisma, { name: 'quiet-zone', timezone: 'UTC' });
  beforeBoundary(10 * 60_000);
  // The window is the hour before the boundary as Berlin's clock reads it: read in UTC
  // (an hour or two behind), now is outside it.
  const quietHours = { enabled: true, start: hhmm(boundary - 3_600_000), end: hhmm(boundary), mode: 'defer' as const };
  await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { cooldownSeconds: 0, userThrottle: { limit: 0 }, quietHours } }, system);
  await setSecret(bulwark.ctx.prisma, requireMasterKeys(bulwark.ctx.config), { tenantId: t.id, name: 'bot', value: BOT_TOKEN }, system);
  await addChannel(bulwark.ctx.prisma, { tenantId: t.id, name: 'zone-chat', type: 'telegram', target: '-100777', secretRef: 'secret://bot' }, system, LOOPBACK_TARGETS);
  const outcomeOf = async (alertId: string) =>
    waitFor(async () => {
      const r = (await superuserQuery(db.url, `SELECT outcome, defer_until FROM alert_ledger WHERE id = $1`, [alertId])).rows[0];
      return r && r.outcome !== 'received' && r.outcome !== 'delivering' ? r : undefined;
    }, `the decision of ${alertId}`);
  const first = await producer.alert.send({ tenantId: t.id, type: 'zone.before', severity: 'warning', title: 'Before the zone change' });
  assert.is((await outcomeOf(first.alertId)).outcome, 'delivered', 'read in the tenant\'s zone (UTC), now is outside quiet hours');
  const bad = await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { quietHours: { timezone: 'Mars/Olympus' } } }, system).then(() => undefined, (e: unknown) => e as { fields?: Array<{ path: string }> });
  assert.equal(bad?.fields?.map((f) => f.path), ['alerts.quietHours.timezone'], 'an unknown zone is refused, naming the field');
  await updateTenantSettings(bulwark.ctx.prisma, t.id, { alerts: { quietHours: { timezone: 'Europe/Berlin' } } }, system);
  const second = await producer.alert.send({ tenantId: t.id, type: 'zone.after', severity: 'warning', title: 'After the zone change' });
  const row = await outcomeOf(second.alertId);
  assert.is(row.outcome, 'deferred', 'the next alert is read in Berlin, inside quiet hours');
  assert.is(new Date(row.defer_until).getTime(), boundary, 'deferred until the window ends in Berlin');
});

test.run();
