// Issue 15 defect 3: Postgres unreachable (a TCP proxy in front of it cut) while the API
// serves. Ingest needs only Redis: a key verified shortly before is still accepted from
// memory and its writes are enqueued (and land once Postgres is back); what needs the
// database (reading the log, a key never seen) is a 503 with Retry-After; nothing is a
// 500. Before: every /v1 request answered 500 `internal` within seconds.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { storedEventIds } from '../../helpers/audit-db.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor, withTimeout } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { startTcpProxy, viaProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';

let db: TestDatabase;
let proxy: TcpProxy;
let prisma: PrismaClient;
let bulwark: RunningBulwark;
let prefix: string;
let tenant: { id: string; key: string; otherKey: string };
const logs = captureLogs();

test.before(
  setup(async () => {
    db = await createTestDatabase();
    prisma = createPrisma({ databaseUrl: db.url }, { max: 1 });
    const t = await createTenant(prisma, { name: 'pg-outage' });
    const other = await createTenant(prisma, { name: 'pg-outage-unseen' });
    tenant = { id: t.id, key: t.adminKey.key, otherKey: other.adminKey.key };
    proxy = await startTcpProxy(new URL(db.url).hostname, Number(new URL(db.url).port || 5432));
    // No caches: every request asks the database, so only the outage path can answer from memory.
    const config = testConfig(viaProxy(db.url, proxy), { API_KEY_CACHE_MS: '0', SETTINGS_CACHE_MS: '0', LOG_LEVEL: 'warn' });
    prefix = config.queuePrefix;
    bulwark = await startBulwark(config, { scheduler: false, logDestination: logs.stream });
  }),
);

test.after(
  cleanup([
    ['unblock proxy', () => proxy?.unblock()],
    ['stop bulwark', () => bulwark?.stop()],
    ['close proxy', () => proxy?.close()],
    ['obliterate queues', () => prefix && obliterateQueues(prefix)],
    ['disconnect prisma', () => prisma?.$disconnect()],
    ['drop database', () => db?.drop()],
  ]),
);

async function call(method: string, path: string, key?: string, body?: unknown) {
  const res = await withTimeout(
    fetch(`${bulwark.url}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }),
    20_000,
    `${method} ${path}`,
  );
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

const write = (eventId: string) => ({ eventId, actorType: 'user', actorId: 'u1', action: 'task:completed', resourceType: 'task', resourceId: 't1' });

test('Postgres down: a key verified before keeps ingesting; reads and unseen keys get 503 + Retry-After; never a 500', async () => {
  assert.is((await call('POST', '/v1/audit', tenant.key, write(randomUUID()))).status, 202);
  assert.is((await call('GET', '/v1/audit', tenant.key)).status, 200);

  proxy.block();
  const during: string[] = [];
  for (let i = 0; i < 5; i++) {
    const eventId = randomUUID();
    const r = await call('POST', '/v1/audit', tenant.key, write(eventId));
    assert.is(r.status, 202, r.text);
    during.push(eventId);
  }
  const batch = randomUUID();
  assert.is((await call('POST', '/v1/audit/batch', tenant.key, { entries: [write(batch)] })).status, 202);
  during.push(batch);

  for (const [path, key] of [['/v1/audit', tenant.key], ['/v1/audit', tenant.otherKey], ['/v1/settings', tenant.key]] as const) {
    const r = await call('GET', path, key);
    assert.is(r.status, 503, `${path}: ${r.text}`);
    assert.ok(r.retryAfter, 'Retry-After');
    assert.is((JSON.parse(r.text) as { error: { code: string } }).error.code, 'unavailable');
  }
  assert.ok(logs.events().some((e) => e.event === 'apikey_served_from_memory'), 'the outage mode is logged');
  assert.not.ok(logs.events().some((e) => e.event === 'http_internal_error'), 'no 500');

  proxy.unblock();
  await waitFor(async () => {
    const stored = await storedEventIds(db.url, tenant.id);
    return during.every((id) => stored.includes(id));
  }, 'the writes accepted during the outage to be stored', 90_000, 250);
  assert.is((await call('GET', '/v1/audit', tenant.otherKey)).status, 200);
});

test('a key revoked while the database answers is refused at once; only keys confirmed lately are remembered', async () => {
  await prisma.apiKey.updateMany({ where: { tenantId: tenant.id }, data: { revokedAt: new Date() } });
  assert.is((await call('POST', '/v1/audit', tenant.key, write(randomUUID()))).status, 401);
  proxy.block();
  try {
    // What the database last said (revoked) wins over the memory of the key.
    const r = await call('POST', '/v1/audit', tenant.key, write(randomUUID()));
    assert.is(r.status, 503, r.text);
  } finally {
    proxy.unblock();
  }
});

test.run();
