// What test/integration/audit/durability-fuzz.test.ts found, each pinned by an input
// of its own (the fuzz draws at random, so a seed may not hit them again). Each was
// accepted by the producer (and so by the HTTP API) and then lost:
// - an alert with groupKey "" or userId "": the decision refuses empty ones, so the job
//   failed at every attempt and its ledger row stayed `received`;
// - an alert whose runbookUrl was longer than the ledger's varchar(2048), or held a NUL
//   (the URL parser ignores C0 controls at its ends): Postgres refused the row at every
//   attempt, and the alert had no row at all;
// - an audit entry whose before/after/metadata was under its size limit as given but over
//   it once redacted ("[REDACTED]" is longer than a short secret value): the worker, which
//   checks the job again, refused the job at every attempt, the other entries with it;
// - a "__proto__" member of before/after/metadata (JSON.parse makes one, as the HTTP API
//   does): the producer's redacting copy set a prototype instead, and the member was not
//   stored;
// - an alert label named "__proto__": zod's record skipped it, so it was not stored;
// - an alert's occurredAt in year 1 written by a process in Europe/Berlin: node-postgres
//   sent the Date with a whole-minute offset, so the stored instant moved by 28 seconds;
// - two settings changes at once: both merged into what both had read, and the later
//   write dropped the other change;
// - an alert id in upper case: decided and sent, but neither logged nor counted (the
//   ledger's statements match rows by the id's text, which Postgres gives in lower case).
// Real Bulwark (workers on), Redis, Postgres and a webhook receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { ALERT_DELIVERY_QUEUE } from '../../../lib/contracts/alert-delivery.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import type { JsonValue } from '../../../lib/contracts/common.js';
import { ValidationError } from '../../../lib/errors.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { getTenantSettings, updateTenantSettings } from '../../../lib/tenants/settings-store.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { runCli } from '../../helpers/cli.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig } from '../../helpers/env.js';
import { bulwarkTeardown, cleanup } from '../../helpers/lifecycle.js';
import { queueIdle } from '../../helpers/queues.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

let db: TestDatabase;
let bulwark: RunningBulwark;
let producer: Producer;
let receiver: Receiver;
let tenantId: string;
const logs = captureLogs();
const queues: Queue[] = [];
const system = { type: 'system' as const, id: 'findings' };
const entry = {
  actorType: 'user',
  actorId: 'u-1',
  action: 'task:completed',
  resourceType: 'task',
  resourceId: 't-1',
} as const;

test.before(async () => {
  receiver = await startReceiver();
  db = await createTestDatabase();
  const config = testConfig(db.url, { SETTINGS_CACHE_MS: '0' });
  bulwark = await startBulwark(config, { http: false, scheduler: false, logDestination: logs.stream });
  producer = createProducer({ redisUrl: config.redisUrl, queuePrefix: config.queuePrefix });
  for (const name of [AUDIT_WRITE_QUEUE, ALERT_QUEUE, ALERT_DELIVERY_QUEUE])
    queues.push(new Queue(name, { connection: bulwark.ctx.redis, prefix: config.queuePrefix }));
  const { prisma } = bulwark.ctx;
  tenantId = (await createTenant(prisma, { name: 'findings', timezone: 'Pacific/Chatham' })).id;
  await updateTenantSettings(
    prisma,
    tenantId,
    { alerts: { maxPerWindow: 100000, cooldownSeconds: 0, userThrottle: { limit: 0 } } },
    system,
  );
  await setSecret(prisma, requireMasterKeys(config), { tenantId, name: 'hook', value: 'findings-secret' }, system);
  await addChannel(
    prisma,
    { tenantId, name: 'hook', type: 'webhook', target: `${receiver.url}/hook`, secretRef: 'secret://hook' },
    system,
    LOOPBACK_TARGETS,
  );
});
test.after(
  cleanup([
    ['close queues', () => Promise.all(queues.map((q) => q.close()))],
    ...bulwarkTeardown(() => ({ producer, bulwark, db })),
    ['close receiver', () => receiver?.close()],
  ]),
);

const sql = async <R>(text: string, params: unknown[] = []) => (await superuserQuery(db.url, text, params)).rows as R[];

/** The field paths of the ValidationError `call` throws (it must throw one). */
async function refusedPaths(call: () => Promise<unknown>): Promise<{ paths: string[]; message: string }> {
  try {
    await call();
  } catch (err) {
    assert.instance(err, ValidationError, String(err));
    return { paths: (err as ValidationError).fields.map((f) => f.path), message: (err as ValidationError).message };
  }
  throw new Error('expected a ValidationError');
}

/** Queues idle, no job failed or retrying, nothing logged at error level or as a job failure. */
async function nothingFailed(): Promise<void> {
  for (const q of queues) await queueIdle(q);
  for (const q of queues) {
    assert.equal(
      (await q.getFailed()).map((j) => j.failedReason),
      [],
      `no failed ${q.name} job`,
    );
    assert.equal(
      (await q.getDelayed()).filter((j) => j.attemptsMade > 0).map((j) => j.failedReason),
      [],
      `no ${q.name} job retrying`,
    );
  }
  const bad = logs.events().filter((e) => (e.level as number) >= 50 || e.event === 'job_failed');
  assert.equal(bad, [], 'no error and no job failure logged');
}

const alert = (extra: Record<string, unknown> = {}) => ({
  tenantId,
  type: 'disk.full',
  severity: 'warning' as const,
  title: 'Disk almost full',
  ...extra,
});
const ledgerRow = async (id: string) =>
  (
    await sql<{
      outcome: string;
      group_key: string;
      user_id: string | null;
      runbook_url: string | null;
      labels: Record<string, string> | null;
    }>('SELECT outcome, group_key, user_id, runbook_url, labels FROM alert_ledger WHERE id = $1', [id])
  )[0];

test('an empty groupKey or userId is refused naming the field; one character of each is decided and delivered', async () => {
  for (const field of ['groupKey', 'userId']) {
    const r = await refusedPaths(() => producer.alert.send(alert({ [field]: '' }) as never));
    assert.equal(r.paths, [field]);
    assert.match(r.message, /must not be empty; leave it out/);
  }
  const { alertId } = await producer.alert.send(alert({ groupKey: 'g', userId: 'u' }));
  await nothingFailed();
  const row = await ledgerRow(alertId);
  assert.equal([row?.outcome, row?.group_key, row?.user_id], ['delivered', 'g', 'u']);
});

test('a runbookUrl longer than 2048 characters, or with a NUL or a lone surrogate, is refused; one of exactly 2048 is stored whole', async () => {
  const base = 'https://runbooks.example/';
  for (const url of [base + 'a'.repeat(2049 - base.length), `${base}x\u0000`, `\u0000${base}`, `${base}\ud800`]) {
    const r = await refusedPaths(() => producer.alert.send(alert({ runbookUrl: url })));
    assert.equal([...new Set(r.paths)], ['runbookUrl'], JSON.stringify(url.slice(-10)));
  }
  const longest = base + 'a'.repeat(2048 - base.length);
  const { alertId } = await producer.alert.send(alert({ runbookUrl: longest }));
  await nothingFailed();
  const row = await ledgerRow(alertId);
  assert.equal([row?.outcome, row?.runbook_url], ['delivered', longest]);
});

/** An object of `size` bytes as JSON with `secrets` members whose redacted value is longer than the value given. */
function withShortSecrets(size: number, secrets: number): Record<string, JsonValue> {
  const o: Record<string, JsonValue> = {};
  for (let i = 0; i < secrets; i++) o[`token${i}`] = 1;
  o.pad = '';
  o.pad = 'x'.repeat(size - Buffer.byteLength(JSON.stringify(o)));
  return o;
}

test('before, after or metadata over its limit only once redacted is refused naming the field; at the limit once redacted it is stored', async () => {
  const cases: Array<[field: 'before' | 'after' | 'metadata', limit: number]> = [
    ['before', 65536],
    ['after', 65536],
    ['metadata', 16384],
  ];
  for (const [field, limit] of cases) {
    const value = withShortSecrets(limit, 10);
    assert.is(Buffer.byteLength(JSON.stringify(value)), limit, 'at the limit as given');
    const one = await refusedPaths(() => producer.audit.write({ tenantId, ...entry, [field]: value }));
    assert.equal(one.paths, [field]);
    assert.match(
      one.message,
      new RegExp(`${field}: is ${limit + 10 * 11} bytes once secret values are redacted, more than ${limit}`),
    );
    const many = await refusedPaths(() =>
      producer.audit.writeMany([
        { tenantId, ...entry },
        { tenantId, ...entry, [field]: value },
      ]),
    );
    assert.equal(many.paths, [`1.${field}`]);
  }
  // Redacted to exactly the limit: stored, and redacted as the docs say.
  const fits = withShortSecrets(65536 - 10 * 11, 10);
  const { eventId } = await producer.audit.write({ tenantId, ...entry, before: fits });
  await nothingFailed();
  const [row] = await sql<{ before: string }>(
    `SELECT before_state::text AS before FROM audit_entries WHERE event_id = $1`,
    [eventId],
  );
  const stored = JSON.parse(row!.before) as Record<string, unknown>;
  assert.is(Buffer.byteLength(JSON.stringify(stored)), 65536, 'the limit once redacted');
  assert.is(stored.token0, '[REDACTED]');
});

test('a "__proto__" member of before, after and metadata (as JSON.parse makes it), at any depth, is stored and the chain verifies', async () => {
  const before = JSON.parse(
    '{"__proto__": {"status": "open", "password": "hunter2"}, "a": [{"__proto__": 1}]}',
  ) as Record<string, JsonValue>;
  const after = JSON.parse('{"x": {"__proto__": "https://u:pw@host/"}}') as Record<string, JsonValue>;
  const metadata = JSON.parse('{"__proto__": null}') as Record<string, JsonValue>;
  const { eventId } = await producer.audit.write({ tenantId, ...entry, before, after, metadata });
  await nothingFailed();
  const [row] = await sql<{ before: string; after: string; metadata: string }>(
    `SELECT before_state::text AS before, after_state::text AS after, metadata::text AS metadata FROM audit_entries WHERE event_id = $1`,
    [eventId],
  );
  assert.equal(
    JSON.parse(row!.before),
    JSON.parse('{"__proto__": {"status": "open", "password": "[REDACTED]"}, "a": [{"__proto__": 1}]}'),
  );
  assert.ok(Object.hasOwn(JSON.parse(row!.before), '__proto__'), 'an own member');
  assert.equal(JSON.parse(row!.after), JSON.parse('{"x": {"__proto__": "https://u:[REDACTED]@host/"}}'));
  assert.ok(Object.hasOwn(JSON.parse(row!.metadata), '__proto__'));
  const verify = await runCli(['audit', 'verify'], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
  assert.is(verify.code, 0, `${verify.out}\n${verify.err}`);
});

test('an alert label named "__proto__" is refused naming labels, where it was accepted and not stored', async () => {
  const labels = JSON.parse('{"__proto__": "x", "host": "db-1"}') as Record<string, string>;
  const r = await refusedPaths(() => producer.alert.send(alert({ labels })));
  assert.equal(r.paths, ['labels']);
  assert.match(r.message, /__proto__/);
  // Other names that are Object.prototype's are ordinary labels.
  const { alertId } = await producer.alert.send(
    alert({ id: randomUUID(), labels: { constructor: 'c', toString: 't', host: 'db-1' } }),
  );
  await nothingFailed();
  assert.equal((await ledgerRow(alertId))?.labels, { constructor: 'c', toString: 't', host: 'db-1' });
});

test('an alert of year 1 keeps its instant in a process whose zone then had an offset with seconds (Europe/Berlin: +00:53:28)', async () => {
  const tz = process.env.TZ;
  process.env.TZ = 'Europe/Berlin';
  try {
    assert.is(new Date('0001-01-01T00:00:00Z').getSeconds(), 28, 'the zone is in force');
    const { alertId } = await producer.alert.send(alert({ occurredAt: '0001-01-01T00:00:00Z' }));
    await nothingFailed();
    const [row] = await sql<{ at: string }>(
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS at FROM alert_ledger WHERE id = $1`,
      [alertId],
    );
    assert.is(row?.at, '0001-01-01T00:00:00.000');
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
});

test('an alert id in upper case is the same alert in lower case: counted and logged when decided, and given back as stored', async () => {
  const delivered = async () =>
    (await bulwark.ctx.metrics.alertsTotal.get()).values
      .filter((v) => v.labels.outcome === 'delivered')
      .reduce((n, v) => n + v.value, 0);
  const before = await delivered();
  const id = randomUUID().toUpperCase();
  const { alertId, jobId } = await producer.alert.send(alert({ id }));
  assert.is(alertId, id.toLowerCase(), 'the id as the ledger holds it');
  assert.is(jobId, `alert-${tenantId}-${id.toLowerCase()}`);
  // The same alert again, in lower case: one job, one row.
  await producer.alert.send(alert({ id: id.toLowerCase() }));
  await nothingFailed();
  assert.is((await ledgerRow(alertId))?.outcome, 'delivered');
  assert.is(await delivered(), before + 1, 'one delivered alert counted');
});

test('settings changes made at once all land, each audited against the one before it', async () => {
  const { prisma } = bulwark.ctx;
  const t = (await createTenant(prisma, { name: 'settings-race' })).id;
  const patches = [
    { alerts: { maxPerWindow: 7 } },
    { alerts: { cooldownSeconds: 9 } },
    { api: { requestsPerWindow: 11 } },
    { retention: { defaultDays: 13 } },
  ];
  await Promise.all(patches.map((p) => updateTenantSettings(prisma, t, p, system)));
  const s = await getTenantSettings(prisma, t);
  assert.equal(
    [s.alerts.maxPerWindow, s.alerts.cooldownSeconds, s.api.requestsPerWindow, s.retention.defaultDays],
    [7, 9, 11, 13],
    'every change kept',
  );
  // The audit entries chain: each one's before is the after of the one before it.
  const rows = await sql<{ before: unknown; after: unknown }>(
    `SELECT before_state AS before, after_state AS after FROM audit_entries WHERE tenant_id = $1 AND action = 'settings:updated' ORDER BY seq`,
    [t],
  );
  assert.is(rows.length, patches.length);
  for (let i = 1; i < rows.length; i++)
    assert.equal(rows[i]!.before, rows[i - 1]!.after, `entry ${i + 1} starts from entry ${i}`);
});

test.run();
