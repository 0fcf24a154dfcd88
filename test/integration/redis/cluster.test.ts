// Bulwark on a Redis Cluster of three masters with a replica each (started here, on
// free ports): audit writes (with the security alert in the same MULTI), alert
// decisions, the API's rate limits and the operator lockout, Bull Board and /readyz all
// work through it, and every key sits in the slot its script or MULTI needs: BullMQ's
// under the queue prefix's hash tag, the alert decision's under the tenant's.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { startBulwark } from '../../../app/main.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { AUDIT_VERIFY_QUEUE } from '../../../lib/contracts/audit.js';
import { verifyTenantChain } from '../../../lib/audit/verify.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startRedisCluster, type RedisClusterHandle } from '../../helpers/redis-cluster.js';

let cluster: RedisClusterHandle;
let api: ApiHarness;
let tenant: { id: string; adminKey: string };
const operator = { authorization: basic(OPERATOR.username, OPERATOR.password) };
const entry = (eventId = randomUUID()) => ({
  eventId,
  actorType: 'user',
  actorId: 'u-1',
  action: 'task:completed',
  resourceType: 'task',
  resourceId: 't-1',
});

test.before(
  setup(async () => {
    cluster = await startRedisCluster();
    // No caches, so a settings change applies to the very next request.
    api = await startApi({
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      API_KEY_CACHE_MS: '0',
      SETTINGS_CACHE_MS: '0',
    });
    tenant = await api.tenant('cluster-tenant');
  }),
);

test.after(
  cleanup([
    ['close api', () => api?.close()],
    ['stop cluster', () => cluster?.stop()],
  ]),
);

test('the configuration puts the queue prefix in a hash tag; Bulwark is ready on the cluster', async () => {
  const { config } = api.bulwark.ctx;
  assert.is(config.redis.mode, 'cluster');
  assert.is(config.queuePrefix, `{${config.keyPrefix}}`);
  const ready = await api.call('GET', '/readyz');
  assert.is(ready.status, 200, await ready.text());
});

test('audit writes, single and batch, with a security entry and its alert in one MULTI: stored once, chain intact', async () => {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  assert.is((await api.call('POST', '/v1/audit', { key: tenant.adminKey, body: entry(ids[0]) })).status, 202);
  const batch = await api.call('POST', '/v1/audit/batch', {
    key: tenant.adminKey,
    body: { entries: [entry(ids[1]), { ...entry(ids[2]), action: 'security:login-failed', severity: 'high' }] },
  });
  assert.is(batch.status, 202, await batch.text());
  // The same entries again (a client's retry): nothing stored twice.
  await api.call('POST', '/v1/audit', { key: tenant.adminKey, body: entry(ids[0]) });
  await waitFor(
    async () =>
      (await superuserQuery(api.db.url, 'SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1', [tenant.id]))
        .rows[0].n >= 3,
    'the entries to be stored',
  );
  // The tenant's creation wrote entries of its own before these.
  const chain = await verifyTenantChain(api.bulwark.ctx.prisma, tenant.id);
  assert.ok(chain.ok, JSON.stringify(chain));
  const stored = (
    await superuserQuery(api.db.url, 'SELECT event_id FROM audit_log WHERE tenant_id = $1 AND event_id = ANY($2)', [
      tenant.id,
      ids,
    ])
  ).rows;
  assert.is(stored.length, 3);
  // The high-severity security entry raised its alert (added with the audit job, in the same MULTI).
  const alert = await waitFor(
    async () =>
      (
        await superuserQuery(
          api.db.url,
          `SELECT outcome FROM alert_ledger WHERE tenant_id = $1 AND type = 'security:login-failed'`,
          [tenant.id],
        )
      ).rows[0],
    'the security alert to be decided',
  );
  assert.ok(alert.outcome, 'the alert has a ledger row');
});

/** The outcome of an alert posted now, once the worker has decided it. */
async function postAlert(title: string): Promise<{ outcome: string; reason: string | null }> {
  const res = await api.call('POST', '/v1/alerts', {
    key: tenant.adminKey,
    body: { type: 'disk.full', severity: 'high', title },
  });
  const text = await res.text();
  assert.is(res.status, 202, text);
  const { alertId } = JSON.parse(text) as { alertId: string };
  return waitFor(async () => {
    const row = (await superuserQuery(api.db.url, 'SELECT outcome, reason FROM alert_ledger WHERE id = $1', [alertId]))
      .rows[0] as { outcome: string; reason: string | null } | undefined;
    return row && row.outcome !== 'received' && row.outcome !== 'delivering' ? row : undefined;
  }, `alert "${title}" to be decided`);
}

test('alert decisions (one script over the tenant-tagged keys, with the channel pauses it reads): the cooldown holds', async () => {
  const first = await postAlert('Disk almost full');
  assert.is.not(first.outcome, 'suppressed', JSON.stringify(first));
  const second = await postAlert('Disk almost full again');
  assert.equal(second, { outcome: 'suppressed', reason: 'cooldown' });
});

test("the API key's sliding window admits exactly its limit from a burst", async () => {
  const patch = await api.call('PATCH', '/v1/settings', {
    key: tenant.adminKey,
    body: { api: { requestsPerWindow: 5, windowSeconds: 60 } },
  });
  assert.is(patch.status, 200, await patch.text());
  // A key of its own: the admin key has spent its window already.
  const { key } = await createApiKey(
    api.bulwark.ctx.prisma,
    { tenantId: tenant.id, name: 'burst', scopes: ['audit:write'] },
    { type: 'user', id: 't' },
  );
  const responses = await Promise.all(
    Array.from({ length: 10 }, () => api.call('POST', '/v1/audit', { key, body: entry() })),
  );
  const bodies = await Promise.all(responses.map((r) => r.text()));
  assert.equal(
    responses.map((r) => r.status).sort(),
    [202, 202, 202, 202, 202, 429, 429, 429, 429, 429],
    bodies.join('\n'),
  );
});

test('the scheduler upserts its repeatable jobs into the queue slot (a second process, scheduler only)', async () => {
  const scheduler = await startBulwark(api.bulwark.ctx.config, {
    http: false,
    workers: false,
    logDestination: api.logs.stream,
  });
  try {
    const queue = new Queue(AUDIT_VERIFY_QUEUE, {
      connection: api.bulwark.ctx.redis,
      prefix: api.bulwark.ctx.config.queuePrefix,
    });
    try {
      const ids = (await queue.getJobSchedulers()).map((s) => s.key);
      assert.ok(ids.includes('audit-verify-hourly'), JSON.stringify(ids));
    } finally {
      await queue.close();
    }
  } finally {
    await scheduler.stop();
  }
});

test('Bull Board lists every queue with its counts', async () => {
  const res = await api.call('GET', '/admin/queues/api/queues', { headers: operator });
  assert.is(res.status, 200);
  const body = (await res.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
  const audit = body.queues.find((q) => q.name === 'audit-write');
  assert.ok(audit, JSON.stringify(body.queues.map((q) => q.name)));
  assert.ok((audit!.counts.completed ?? 0) > 0, JSON.stringify(audit!.counts));
});

test("every key sits in the slot its script needs: BullMQ's under the queue prefix's tag, alert decisions under the tenant's", async () => {
  const { queuePrefix, keyPrefix } = api.bulwark.ctx.config;
  const keys: Array<{ key: string; port: number }> = [];
  for (const { port } of cluster.nodes) {
    const role = await cluster.admin(port, (r) => r.role());
    if (role[0] !== 'master') continue;
    for (const key of await cluster.admin(port, (r) => r.keys('*'))) keys.push({ key, port });
  }
  const queueMaster = await cluster.masterOf(`${queuePrefix}:x`);
  const unexplained = keys.filter(({ key, port }) => {
    if (key.startsWith(`${queuePrefix}:`)) return port !== queueMaster;
    if (new RegExp(`^${keyPrefix}:alert:\\{${tenant.id}\\}:`).test(key)) return false;
    // Single keys, each wherever its own name hashes.
    return !key.startsWith(`${keyPrefix}:ratelimit:`) && !key.startsWith(`${keyPrefix}:denials:`);
  });
  assert.equal(unexplained, []);
  const names = keys.map((k) => k.key);
  assert.ok(names.includes(`${queuePrefix}:audit-write:meta`), 'the audit queue is in the queue slot');
  assert.ok(
    names.some((k) => k.startsWith(`${keyPrefix}:alert:{${tenant.id}}:`)),
    'the alert decision keys carry the tenant tag',
  );
  assert.ok(names.some((k) => k.startsWith(`${keyPrefix}:ratelimit:`)));
  // Not everything under one hash tag. Which masters the slots land on is chance (three
  // or so slots fall on one master about one run in nine), so the slots are counted.
  const slots = new Set<number>();
  for (const { key } of keys) slots.add(Number(await cluster.admin(queueMaster, (r) => r.cluster('KEYSLOT', key))));
  assert.ok(slots.size > 1, `keys in more than one slot: ${[...slots].join(', ')}`);
});

// Last: it locks this address out of the operator routes for the hour.
test('the operator lockout (one script over two keys) counts the limit and then locks out', async () => {
  const wrong = { authorization: basic(OPERATOR.username, 'not-the-password') };
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) {
    const res = await api.call('GET', '/admin/queues/api/queues', { headers: wrong });
    statuses.push(res.status);
    const body = await res.text();
    if (res.status >= 500) console.error(body);
  }
  assert.equal(statuses, [...Array<number>(10).fill(401), 429]);
  const locked = await api.call('GET', '/admin/queues/api/queues', { headers: operator });
  assert.is(locked.status, 429);
  await locked.arrayBuffer();
});

test.run();
