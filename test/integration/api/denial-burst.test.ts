// The denial-burst threshold at its boundary: 10 refused keys in an hour from one
// source raise nothing, the 11th raises one high-severity security:api-key-denial-burst
// entry and alert; a burst counted by key prefix across source addresses; and IPv6
// addresses counted by their /64, IPv4 ones each on its own. TLS is
// on, so the server trusts X-Forwarded-For for the client address, as behind a proxy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { revokeApiKey } from '../../../lib/apikeys/lifecycle.js';
import { ALERT_QUEUE, type AlertJob } from '../../../lib/contracts/alert.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { queueIdle } from '../../helpers/queues.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';

const SYSTEM_TENANT = '00000000-0000-4000-8000-000000000001';
let api: ApiHarness;
let audits: Queue;
let alerts: Queue<AlertJob>;

test.before(async () => {
  api = await startApi({ TLS_ENABLED: 'true' });
  const options = { connection: api.bulwark.ctx.redis, prefix: api.bulwark.ctx.config.queuePrefix };
  audits = new Queue(AUDIT_WRITE_QUEUE, options);
  alerts = new Queue<AlertJob>(ALERT_QUEUE, options);
});
test.after(async () => {
  await audits.close();
  await alerts.close();
  await api.close();
});

interface Row {
  event_id: string;
  tenant_id: string;
  resource_id: string;
  ip: string;
  severity: string;
  metadata: { subject: string; threshold: number; window_seconds: number; address_group?: string };
}

async function refuse(key: string, ip: string): Promise<void> {
  const res = await api.call('GET', '/v1/audit', { key, headers: { 'x-forwarded-for': ip } });
  assert.is(res.status, 401, `${ip} ${key.slice(0, 12)}`);
  await res.arrayBuffer();
}

async function rows(action: string, where: string, params: unknown[]): Promise<Row[]> {
  return (
    await superuserQuery(api.db.url, `SELECT * FROM audit_entries WHERE action = $1 AND ${where} ORDER BY seq`, [
      action,
      ...params,
    ])
  ).rows as Row[];
}

/** Burst alert jobs; one is enqueued before the refused request is answered, if at all. */
async function burstAlerts(): Promise<Array<AlertJob['alert']>> {
  const jobs = await alerts.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed']);
  return jobs.map((j) => j.data.alert).filter((a) => a.type === 'security:api-key-denial-burst');
}

test('10 denials from one address raise no burst; the 11th raises exactly one entry and one alert', async () => {
  const ip = '198.51.100.7';
  // Each key has its own display prefix, so only the address counter can reach the threshold.
  const keys = Array.from({ length: 12 }, (_, i) => `bwk_IP${String(i).padStart(2, '0')}${'q'.repeat(39)}`);
  for (const key of keys.slice(0, 10)) await refuse(key, ip);
  assert.equal(await burstAlerts(), [], 'no alert after 10 denials');
  await queueIdle(audits);
  assert.is(
    (await rows('security:api-key-denied', 'ip = $2', [ip])).length,
    10,
    'each denial is audited with the forwarded address',
  );
  assert.equal(await rows('security:api-key-denial-burst', 'true', []), [], 'no burst entry after 10 denials');

  await refuse(keys[10]!, ip);
  const raised = await burstAlerts();
  assert.is(raised.length, 1, 'the 11th denial raises the alert');
  const [burst] = await waitFor(async () => {
    const r = await rows('security:api-key-denial-burst', 'true', []);
    return r.length ? r : undefined;
  }, 'the burst entry');
  assert.is(burst!.ip, ip);
  assert.is(burst!.severity, 'high');
  assert.is(burst!.tenant_id, SYSTEM_TENANT, 'unknown keys are attributed to the system tenant');
  assert.is(burst!.resource_id, keys[10]!.slice(0, 12));
  assert.equal(burst!.metadata, { subject: 'ip', threshold: 10, window_seconds: 3600, address_group: ip });
  assert.is(raised[0]!.severity, 'high');
  assert.is(raised[0]!.tenantId, SYSTEM_TENANT);
  assert.is(raised[0]!.source?.auditEventId, burst!.event_id, "the alert is the burst entry's");

  // The 12th denial of the same hour raises nothing more.
  await refuse(keys[11]!, ip);
  await queueIdle(audits);
  assert.is((await rows('security:api-key-denial-burst', 'true', [])).length, 1);
  assert.is((await burstAlerts()).length, 1);
});

test('one key prefix refused from 11 addresses raises a burst counted by key, in the key tenant', async () => {
  const tenant = await api.tenant('burst-key');
  const prisma = api.bulwark.ctx.prisma;
  const { key, record } = await createApiKey(
    prisma,
    { tenantId: tenant.id, name: 'leaked', scopes: ['audit:read'] },
    { type: 'user', id: 'test' },
  );
  await revokeApiKey(prisma, tenant.id, record.displayPrefix, { type: 'user', id: 'test' });
  const before = (await burstAlerts()).length;
  const addresses = Array.from({ length: 11 }, (_, i) => `203.0.113.${i + 1}`);

  for (const ip of addresses.slice(0, 10)) await refuse(key, ip);
  assert.is((await burstAlerts()).length, before, 'no alert after 10 denials of one key');
  await queueIdle(audits);
  assert.is((await rows('security:api-key-denied', 'resource_id = $2', [record.displayPrefix])).length, 10);
  assert.equal(await rows('security:api-key-denial-burst', 'tenant_id = $2', [tenant.id]), []);

  await refuse(key, addresses[10]!);
  const raised = (await burstAlerts()).filter((a) => a.tenantId === tenant.id);
  assert.is(raised.length, 1, 'the 11th denial of the key raises the alert');
  const [burst] = await waitFor(async () => {
    const r = await rows('security:api-key-denial-burst', 'tenant_id = $2', [tenant.id]);
    return r.length ? r : undefined;
  }, 'the key burst entry');
  assert.equal(burst!.metadata, { subject: 'key', threshold: 10, window_seconds: 3600 });
  assert.is(burst!.resource_id, record.displayPrefix);
  assert.is(burst!.ip, addresses[10]);
  assert.is(burst!.severity, 'high');
  assert.is(raised[0]!.source?.auditEventId, burst!.event_id);
  await queueIdle(audits);
  assert.is(
    (await rows('security:api-key-denial-burst', 'true', [])).length,
    2,
    'no address reached the threshold: one burst from the test above, one for the key',
  );
  assert.not.match(JSON.stringify(await superuserQuery(api.db.url, 'SELECT * FROM audit_entries')), key);
});

test('IPv6 addresses rotating within one /64 count as one source; IPv4 neighbours do not', async () => {
  // Each key its own prefix again, so only the address counter can reach the threshold.
  const keys = Array.from({ length: 24 }, (_, i) => `bwk_V6${String(i).padStart(2, '0')}${'r'.repeat(39)}`);
  const inPrefix = (i: number) => `2001:db8:aa:bb:${(i + 1).toString(16)}::1`;
  const v4 = (i: number) => `192.0.2.${i + 1}`;
  for (let i = 0; i < 11; i++) await refuse(keys[i]!, v4(i));
  for (let i = 0; i < 10; i++) await refuse(keys[11 + i]!, inPrefix(i));
  await queueIdle(audits);
  const burstsOf = (group: string) => rows('security:api-key-denial-burst', "metadata->>'address_group' = $2", [group]);
  assert.equal(await burstsOf('2001:db8:aa:bb::/64'), [], 'no burst after 10 denials from the /64');
  assert.is((await rows('security:api-key-denied', "ip LIKE '192.0.2.%'", [])).length, 11);
  assert.equal(
    await rows('security:api-key-denial-burst', "ip LIKE '192.0.2.%'", []),
    [],
    '11 IPv4 neighbours: no burst',
  );

  await refuse(keys[21]!, '2001:DB8:AA:BB:FFFF:FFFF:FFFF:FFFF');
  const [burst, ...more] = await waitFor(async () => {
    const r = await burstsOf('2001:db8:aa:bb::/64');
    return r.length ? r : undefined;
  }, 'the /64 burst entry');
  assert.is(more.length, 0);
  assert.is(burst!.ip, '2001:DB8:AA:BB:FFFF:FFFF:FFFF:FFFF', 'the entry keeps the address as it came');
  assert.equal(burst!.metadata, {
    subject: 'ip',
    threshold: 10,
    window_seconds: 3600,
    address_group: '2001:db8:aa:bb::/64',
  });
  const denied = await rows('security:api-key-denied', "ip ILIKE '2001:db8:aa:bb:%'", []);
  assert.is(new Set(denied.map((r) => r.ip)).size, 11, 'each denial keeps its own address');
  await refuse(keys[22]!, '2001:db8:aa:bc::1');
  await queueIdle(audits);
  assert.equal(await burstsOf('2001:db8:aa:bc::/64'), [], 'the neighbouring /64 has its own count');
});

test.run();
