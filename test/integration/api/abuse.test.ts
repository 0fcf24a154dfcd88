// Abuse protection on the API: the per-key sliding window (exactly the limit admitted
// from a burst of twice the limit, 429 with Retry-After, a structured deny event and
// the outcome counter) and bursts of key denials raising a security alert.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };
const entry = { actorType: 'user', action: 'task:completed', resourceType: 'task' };

test.before(async () => {
  // No settings cache, so the limit set below applies to the very next request.
  api = await startApi({ API_KEY_CACHE_MS: '0', SETTINGS_CACHE_MS: '0' });
  tenant = await api.tenant('abuse-tenant');
});
test.after(async () => api.close());

test('a burst of twice the limit admits exactly the limit; the rest get 429 with Retry-After', async () => {
  const patch = await api.call('PATCH', '/v1/settings', {
    key: tenant.adminKey,
    body: { api: { requestsPerWindow: 5, windowSeconds: 60 } },
  });
  assert.is(patch.status, 200);
  const { key } = await createApiKey(
    api.bulwark.ctx.prisma,
    { tenantId: tenant.id, name: 'burst', scopes: ['audit:write'] },
    { type: 'user', id: 't' },
  );
  const responses = await Promise.all(
    Array.from({ length: 10 }, () => api.call('POST', '/v1/audit', { key, body: entry })),
  );
  const statuses = responses.map((r) => r.status).sort();
  assert.equal(statuses, [202, 202, 202, 202, 202, 429, 429, 429, 429, 429]);
  const limited = responses.find((r) => r.status === 429)!;
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.is(((await limited.json()) as { error: { code: string } }).error.code, 'rate_limited');
  const deny = api.logs.events().find((e) => e.event === 'abuse_throttle_deny');
  assert.ok(deny, 'a structured deny event is logged');
  assert.is(deny!.tenant_id, tenant.id);
  assert.is(deny!.key_prefix, key.slice(0, 12));
  assert.is(deny!.route, 'POST /v1/audit');
  assert.is(deny!.window_seconds, 60);
  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  assert.match(metrics, 'bulwark_abuse_outcomes_total{outcome="deny"} 5');
  assert.match(metrics, /bulwark_abuse_outcomes_total\{outcome="allow"\} \d+/);
});

test('more than 10 denials in an hour from one address raise one high-severity security alert', async () => {
  const bogus = Array.from({ length: 12 }, (_, i) => `bwk_${String(i).padStart(2, '0')}${'Q'.repeat(41)}`);
  for (const key of bogus) assert.is((await api.call('GET', '/v1/audit', { key })).status, 401);
  const burst = await waitFor(async () => {
    const r = await superuserQuery(
      api.db.url,
      `SELECT * FROM audit_entries WHERE action = 'security:api-key-denial-burst'`,
    );
    return r.rowCount ? r.rows : undefined;
  }, 'the burst entry');
  assert.is(burst.length, 1, 'one alert per window, however long the burst');
  assert.is(burst[0].severity, 'high');
  // Denials are audited through the queue: the burst entry (after the 11th) can be
  // committed before the 12th denial's entry is.
  const denials = async () =>
    (
      await superuserQuery(
        api.db.url,
        `SELECT count(*)::int AS n FROM audit_log WHERE action = 'security:api-key-denied' AND reason = 'unknown'`,
      )
    ).rows[0].n as number;
  await waitFor(async () => (await denials()) >= 12 || undefined, 'every denial recorded');
  assert.is(await denials(), 12, 'every denial is recorded, once');
  const alerts = new Queue(ALERT_QUEUE, {
    connection: api.bulwark.ctx.redis,
    prefix: api.bulwark.ctx.config.queuePrefix,
  });
  try {
    const jobs = await waitFor(async () => {
      const j = await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
      return j.some((x) => x.data.alert.type === 'security:api-key-denial-burst') ? j : undefined;
    }, 'the alert job');
    const job = jobs.find((x) => x.data.alert.type === 'security:api-key-denial-burst')!;
    assert.is(job.data.alert.severity, 'high');
    for (const key of bogus) assert.not.match(JSON.stringify(job.data), key);
  } finally {
    await alerts.close();
  }
});

test.run();
