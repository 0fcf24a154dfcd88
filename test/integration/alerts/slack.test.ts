// Slack through the worker: a tenant's Slack channel whose credential is a secret://
// reference to the incoming-webhook URL (here a local recording receiver). An alert
// sent with producer.alert.send is decided and delivered by the worker; the receiver
// gets Slack's `{ text }` with severity, title and runbook link; the ledger says
// delivered with channel and status; and the webhook URL, or any part of it that
// identifies the webhook, appears in no log line, no Redis key and no database row.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
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
import { dumpRedis } from '../../helpers/queues.js';
import { replies, startReceiver, type Receiver } from '../../helpers/receiver.js';

const system = { type: 'system' as const, id: 'test' };
// Slack's incoming-webhook URLs are bearer credentials: the path is the secret.
const HOOK_PATH = '/services/T0BULWARK/B0SLACKTEST/xK9sLackW3bh00kS3cretT0ken';
const SECRET_PARTS = ['T0BULWARK/B0SLACKTEST', 'xK9sLackW3bh00kS3cretT0ken'];
const RUNBOOK = 'https://runbooks.example.com/disk-full.md';
let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let receiver: Receiver;
let hookUrl: string;
let tenantId: string;
const logs = captureLogs();

test.before(async () => {
  receiver = await startReceiver();
  hookUrl = `${receiver.url}${HOOK_PATH}`;
  db = await createTestDatabase();
  // debug: the most a log could ever say about a delivery.
  const config = testConfig(db.url, { SETTINGS_CACHE_MS: '0', LOG_LEVEL: 'debug' });
  bulwark = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream });
  producer = createProducer({ queuePrefix: config.queuePrefix });
  const { prisma } = bulwark.ctx;
  const t = await createTenant(prisma, { name: 'slack-tenant', timezone: 'UTC' });
  tenantId = t.id;
  await updateTenantSettings(prisma, t.id, { alerts: { cooldownSeconds: 0 } }, system);
  await setSecret(prisma, requireMasterKeys(config), { tenantId: t.id, name: 'slack-hook', value: hookUrl }, system);
  await addChannel(prisma, { tenantId: t.id, name: 'slack-ops', type: 'slack', target: '#ops', secretRef: 'secret://slack-hook' }, system, LOOPBACK_TARGETS);
});
test.after(cleanup([...bulwarkTeardown(() => ({ producer, bulwark, db })), ['close receiver', () => receiver?.close()]]));

const ledgerRow = async (id: string) => (await superuserQuery(db.url, `SELECT * FROM alert_ledger WHERE id = $1`, [id])).rows[0];

test('slack: the worker posts { text } with severity, title and runbook link to the webhook URL from the secret', async () => {
  const { alertId } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'high', title: 'Disk /var is 97% full', body: 'db-1 will stop writing soon', runbookUrl: RUNBOOK });
  const [req] = await receiver.waitForRequests(1, 15_000);
  assert.is(req!.method, 'POST');
  assert.is(req!.path, HOOK_PATH, 'posted to the incoming-webhook URL the secret holds');
  assert.match(String(req!.headers['content-type']), 'application/json');
  const body = JSON.parse(req!.body) as { text?: unknown };
  assert.is(typeof body.text, 'string', 'Slack incoming webhooks take { text }');
  const text = body.text as string;
  assert.match(text, /high/i, 'severity');
  assert.match(text, 'Disk /var is 97% full', 'title');
  assert.match(text, RUNBOOK, 'runbook link');
  const row = await waitFor(async () => {
    const r = await ledgerRow(alertId);
    return r?.outcome === 'delivered' ? r : undefined;
  }, 'the ledger row delivered');
  assert.is(row.channel, 'slack-ops');
  assert.is(row.last_status, 200);
  assert.is(row.attempts, 1);
  assert.ok(row.delivered_at, 'delivered_at set');
  // The log line follows the ledger update.
  await waitFor(async () => logs.events().some((e) => e.event === 'alert_delivered' && e.tenant_id === tenantId), 'alert_delivered logged');
});

test('slack: a refused post (400) is recorded as failed with its status, without the webhook URL', async () => {
  receiver.next(replies.badRequest);
  const { alertId } = await producer.alert.send({ tenantId, type: 'disk.full', severity: 'warning', title: 'Disk /var is 90% full' });
  const row = await waitFor(async () => {
    const r = await ledgerRow(alertId);
    return r?.outcome === 'failed' ? r : undefined;
  }, 'the ledger row failed');
  assert.is(row.reason, 'rejected');
  assert.is(row.last_status, 400);
  assert.is(row.channel, 'slack-ops');
  assert.ok(row.last_error && !row.last_error.includes(HOOK_PATH), `the recorded error names no part of the webhook URL: ${row.last_error}`);
  // The log line follows the ledger update.
  await waitFor(async () => logs.events().some((e) => e.event === 'alert_failed' && e.tenant_id === tenantId), 'alert_failed logged');
});

test('slack: the webhook URL is in no log line, no Redis key and no database row', async () => {
  const forbidden = [hookUrl, HOOK_PATH, encodeURIComponent(hookUrl), ...SECRET_PARTS];
  const places: Array<[string, string]> = [
    ['logs', logs.text()],
    ['redis', await dumpRedis(bulwark.ctx.config.queuePrefix)],
    ['alert_ledger', JSON.stringify((await superuserQuery(db.url, 'SELECT * FROM alert_ledger')).rows)],
    ['alert_channels', JSON.stringify((await superuserQuery(db.url, 'SELECT * FROM alert_channels')).rows)],
    ['audit_log', JSON.stringify((await superuserQuery(db.url, 'SELECT * FROM audit_log')).rows)],
  ];
  assert.ok(logs.lines.length > 0, 'there were logs to search');
  assert.match(places[1]![1], 'Disk /var is 97% full', 'the alert jobs are still in Redis to search');
  for (const [where, text] of places) for (const f of forbidden) assert.not.ok(text.includes(f), `${where} contains the webhook URL (${f.slice(0, 12)}…)`);
});

test.run();
