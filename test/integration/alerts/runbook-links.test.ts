// Alerts Bulwark raises itself link to their runbook: a burst of API-key denials goes
// HTTP → denial audit entries → burst entry → alert job → alert worker → webhook
// receiver, and carries `${RUNBOOK_BASE_URL}/security-api-key-denial-burst.md` when
// RUNBOOK_BASE_URL is set, and no runbook link at all when it is not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

const BASE = 'https://runbooks.example.com/bulwark/docs/runbooks';
const system = { type: 'system' as const, id: 'test' };
let receiver: Receiver;

test.before(async () => {
  receiver = await startReceiver();
});
test.after(async () => receiver.close());

interface BurstAlert {
  runbook_url: string | null;
  outcome: string;
  body: string;
}

/**
 * Start Bulwark with `overrides`, give a tenant a webhook channel at `path` of the
 * receiver, refuse one of its keys 11 times (wrong scope), and return the burst alert
 * as the ledger and the receiver saw it.
 */
async function burstAlert(overrides: Record<string, string>, path: string): Promise<BurstAlert> {
  const api: ApiHarness = await startApi({ SETTINGS_CACHE_MS: '0', ...overrides });
  try {
    const { prisma, config } = api.bulwark.ctx;
    const tenant = await api.tenant(`runbook-${path.slice(1)}`);
    // Both subjects (the address and the key prefix) burst at once: two alerts of one
    // type, so no cooldown may swallow the second.
    assert.is((await api.call('PATCH', '/v1/settings', { key: tenant.adminKey, body: { alerts: { cooldownSeconds: 0 } } })).status, 200);
    await setSecret(prisma, requireMasterKeys(config), { tenantId: tenant.id, name: 'hook', value: 'runbook-test-signing-secret' }, system);
    await addChannel(prisma, { tenantId: tenant.id, name: 'sec', type: 'webhook', target: `${receiver.url}${path}`, secretRef: 'secret://hook', severities: ['high', 'critical'] }, system, LOOPBACK_TARGETS);
    const { key } = await createApiKey(prisma, { tenantId: tenant.id, name: 'writer', scopes: ['alert:write'] }, system);
    for (let i = 0; i < 11; i++) assert.is((await api.call('GET', '/v1/audit', { key })).status, 403);
    const rows = await waitFor(async () => {
      const r = await superuserQuery(api.db.url, `SELECT runbook_url, outcome FROM alert_ledger WHERE tenant_id = $1 AND type = 'security:api-key-denial-burst'`, [tenant.id]);
      return r.rows.length > 0 && r.rows.every((x) => x.outcome === 'delivered') ? r.rows : undefined;
    }, 'the burst alerts delivered');
    const hits = await waitFor(async () => receiver.requests.filter((r) => r.path === path).length >= rows.length && receiver.requests.filter((r) => r.path === path), 'the burst alerts at the receiver');
    assert.ok(hits.every((h) => h.body.includes('security:api-key-denial-burst')), 'the receiver got the burst alert');
    return { runbook_url: rows[0].runbook_url, outcome: rows[0].outcome, body: hits.map((h) => h.body).join('\n') };
  } finally {
    await api.close();
  }
}

test('a denial-burst alert links to its runbook page under RUNBOOK_BASE_URL', async () => {
  const alert = await burstAlert({ RUNBOOK_BASE_URL: `${BASE}/` }, '/with-base');
  const url = `${BASE}/security-api-key-denial-burst.md`;
  assert.is(alert.runbook_url, url, 'the ledger row carries the link (trailing slash of the base dropped)');
  assert.match(alert.body, url, 'the delivered message carries the link');
});

test('without RUNBOOK_BASE_URL a denial-burst alert carries no runbook link', async () => {
  const alert = await burstAlert({}, '/without-base');
  assert.is(alert.runbook_url, null);
  assert.not.match(alert.body, 'security-api-key-denial-burst.md');
  assert.not.match(alert.body, 'runbooks');
});

test.run();
