// Bulwark behind PgBouncer in transaction pooling mode (DATABASE_POOLER=pgbouncer), a
// PgBouncer of the test's own with 2 server connections under a pool of 8: tenant
// bootstrap and API keys (interactive transactions), audit writes over HTTP from many
// clients at once (the group commit's BEGIN; SET LOCAL …), reads, verification of the
// chains, an alert decided, recorded and delivered to a webhook (secrets decrypted),
// the cancellation of a running statement at a forced shutdown (by application_name),
// and no "prepared statement" or startup-parameter error anywhere. PgBouncer's own
// counters show the work went through it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { cancelByApplicationName } from '../../../app/runtime/cancel-statements.js';
import { addChannel } from '../../../lib/alerts/channels.js';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { processAuditVerify } from '../../../workers/audit/verify-worker.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig, waitFor, withTimeout } from '../../helpers/env.js';
import { LOOPBACK_TARGETS } from '../../helpers/fixtures.js';
import { bulwarkTeardown, cleanup, setup } from '../../helpers/lifecycle.js';
import { pgbouncerMissing, startPgBouncer, type OwnPgBouncer } from '../../helpers/pgbouncer.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

const missing = pgbouncerMissing();
let bouncer: OwnPgBouncer;
let db: TestDatabase;
let bulwark: RunningBulwark;
let receiver: Receiver;
const logs = captureLogs();
const system = { type: 'system' as const, id: 'test' };
const tenants: Array<{ id: string; key: string }> = [];

const call = (key: string, method: string, path: string, body?: unknown) =>
  fetch(`${bulwark.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

test.before(
  setup(async () => {
    if (missing) return;
    bouncer = await startPgBouncer({ poolSize: 2 });
    db = await createTestDatabase('bulwark_pgb');
    receiver = await startReceiver();
    bulwark = await startBulwark(
      testConfig(bouncer.url(db.name), {
        DATABASE_POOLER: 'pgbouncer',
        DIRECT_DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: '8',
        LOG_LEVEL: 'info',
      }),
      { logDestination: logs.stream },
    );
  }),
);
test.after(
  cleanup([
    ...bulwarkTeardown(() => ({ bulwark, db })),
    ['receiver', () => receiver?.close()],
    ['pgbouncer', () => bouncer?.stop()],
  ]),
);

if (missing) {
  console.log(`SKIP test/integration/pgbouncer/paths.test.ts: ${missing}`);
  test.skip('Bulwark through PgBouncer', () => undefined);
} else {
  test('tenants and API keys are created through PgBouncer (interactive transactions)', async () => {
    for (let i = 0; i < 3; i++) {
      const t = await createTenant(bulwark.ctx.prisma, { name: `pgb-${i}` }, { actor: system });
      const { key } = await createApiKey(
        bulwark.ctx.prisma,
        { tenantId: t.id, name: 'ingest', scopes: ['audit:write', 'audit:read', 'alert:write'] },
        system,
      );
      tenants.push({ id: t.id, key });
    }
    const direct = await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM tenants');
    assert.ok(direct.rows[0].n >= 3);
  });

  test('audit entries written over HTTP by many clients at once are all committed, in intact chains', async () => {
    const perTenant = 60;
    const posts = tenants.flatMap(({ key }) =>
      Array.from({ length: perTenant }, (_, i) =>
        call(key, 'POST', '/v1/audit', {
          actorType: 'user',
          actorId: `u-${i % 7}`,
          action: 'task:completed',
          resourceType: 'task',
          resourceId: `t-${i}`,
          after: { n: i },
        }),
      ),
    );
    const answers = await withTimeout(Promise.all(posts), 60_000, 'audit posts');
    assert.equal([...new Set(answers.map((r) => r.status))], [202]);
    await waitFor(
      async () =>
        (await superuserQuery(db.url, `SELECT count(*)::int AS n FROM audit_log WHERE action = 'task:completed'`))
          .rows[0].n ===
        perTenant * tenants.length,
      'every entry committed',
      60_000,
      200,
    );
    const page = await call(tenants[0]!.key, 'GET', '/v1/audit?limit=5');
    assert.is(page.status, 200);
    const summary = await processAuditVerify({ v: 1 }, bulwark.ctx);
    assert.ok(summary.ok, JSON.stringify(summary.broken));
    assert.ok(summary.entries >= perTenant * tenants.length);
  });

  test('an alert is decided, recorded and delivered to its webhook (secret decrypted) through PgBouncer', async () => {
    const t = tenants[1]!;
    await setSecret(
      bulwark.ctx.prisma,
      requireMasterKeys(bulwark.ctx.config),
      { tenantId: t.id, name: 'hook', value: 'whsec-pgbouncer-signing-key-1' },
      system,
    );
    await addChannel(
      bulwark.ctx.prisma,
      { tenantId: t.id, name: 'hook', type: 'webhook', target: `${receiver.url}/hook`, secretRef: 'secret://hook' },
      system,
      LOOPBACK_TARGETS,
    );
    const res = await call(t.key, 'POST', '/v1/alerts', { type: 'disk.full', severity: 'high', title: 'Disk full' });
    assert.is(res.status, 202, await res.clone().text());
    const [delivered] = await receiver.waitForRequests(1, 90_000);
    assert.is(delivered!.path, '/hook');
    await waitFor(
      async () =>
        (await superuserQuery(db.url, `SELECT outcome FROM alert_ledger WHERE tenant_id = $1`, [t.id])).rows[0]
          ?.outcome === 'delivered',
      'the ledger says delivered',
      60_000,
      100,
    );
  });

  test("PgBouncer served the work: its counters grew and at most its 2 server sessions reached the test's database", async () => {
    const stats = await bouncer.show('STATS');
    const mine = stats.find((s) => s.database === db.name);
    assert.ok(mine, JSON.stringify(stats.map((s) => s.database)));
    assert.ok(Number(mine!.total_xact_count) > 20 && Number(mine!.total_query_count) > 100, JSON.stringify(mine));
    const sessions = await superuserQuery(
      db.url,
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [db.name],
    );
    assert.ok(sessions.rows[0].n <= 2, `server sessions: ${sessions.rows[0].n}`);
  });

  test("a forced shutdown finds the process's running statement by application_name and cancels it", async () => {
    const running = bulwark.ctx.pg.query('SELECT pg_sleep(30)').then(
      () => 'finished',
      (e: Error) => e.message,
    );
    const direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    try {
      const cancelled = await waitFor(
        async () => (await cancelByApplicationName(direct, bulwark.ctx.pgApplicationName)) || undefined,
        'the sleeping statement to be found',
        10_000,
        100,
      );
      assert.is(cancelled, 1);
      assert.match(await withTimeout(running, 10_000, 'the cancelled statement'), /canceling statement/);
    } finally {
      await direct.end();
    }
  });

  test('no prepared-statement, startup-parameter, lock or connection error was logged', () => {
    const bad = logs.lines.filter((l) => /prepared statement|startup parameter|db_connection_lost|advisory/.test(l));
    assert.equal(bad, []);
  });
}

test.run();
