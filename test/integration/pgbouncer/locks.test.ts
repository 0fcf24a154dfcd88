// The lock and session paths behind PgBouncer in transaction pooling mode (2 server
// sessions): the drill/prune upkeep lock excludes a second holder and leaves nothing
// held (a session advisory lock would be re-entered through a shared server session);
// the retention run purges through it; a database backup goes direct (DIRECT_DATABASE_URL)
// while the app is pooled, and a restore drill restores it into a scratch database and
// passes; what must go direct is refused through the pooler naming the variable
// (migrations, a backup's snapshot); and `bulwark start` without DATABASE_POOLER=pgbouncer
// in front of PgBouncer is refused naming DATABASE_POOLER.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import type pg from 'pg';
import { startBulwark, type RunningBulwark } from '../../../app/main.js';
import { createBackup } from '../../../lib/backup/create.js';
import { drillBackupsOf } from '../../../lib/backup/upkeep-adapters.js';
import { withUpkeepLock } from '../../../lib/backup/upkeep-lock.js';
import { createPgPool } from '../../../lib/clients/prisma.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { RETENTION_QUEUE, retentionRunJob } from '../../../lib/contracts/retention.js';
import { migrate } from '../../../lib/db/migrations.js';
import { ConfigError, ConflictError } from '../../../lib/errors.js';
import { createTenant } from '../../../lib/tenants/tenants.js';
import { performRestoreDrill } from '../../../workers/backup/drill.js';
import { startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { superuserQuery } from '../../helpers/db.js';
import { testConfig, waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { pgbouncerMissing, startPgBouncer, type OwnPgBouncer } from '../../helpers/pgbouncer.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { daysAgo, entryAt, seedEntries } from '../../helpers/retention.js';

const missing = pgbouncerMissing();
let bouncer: OwnPgBouncer;
let h: BackupHarness;
let pooled: pg.Pool;
let bulwark: RunningBulwark;
let alertQueue: Queue;
const pooledEnv = () => ({
  DATABASE_URL: bouncer.url(h.db.name),
  DATABASE_POOLER: 'pgbouncer',
  DIRECT_DATABASE_URL: h.db.url,
});
const advisoryLocks = async () =>
  (
    await superuserQuery(
      h.db.url,
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND d.datname = $1`,
      [h.db.name],
    )
  ).rows[0].n as number;

test.before(
  setup(async () => {
    if (missing) return;
    bouncer = await startPgBouncer({ poolSize: 2 });
    h = await startBackupHarness({ tenants: 2, entries: 40 });
    pooled = createPgPool({ databaseUrl: bouncer.url(h.db.name), databasePooler: 'pgbouncer' }, 4);
    bulwark = await startBulwark(testConfig(bouncer.url(h.db.name), { ...h.env, ...pooledEnv() }), { http: false });
    alertQueue = new Queue(ALERT_QUEUE, { connection: h.redis, prefix: bulwark.ctx.config.queuePrefix });
  }),
);
test.after(
  cleanup([
    ['alert queue', () => alertQueue?.close()],
    ['stop bulwark', () => bulwark?.stop()],
    ['queues', () => bulwark && obliterateQueues(bulwark.ctx.config.queuePrefix)],
    ['pool', () => pooled?.end()],
    ['harness', () => h?.close()],
    ['pgbouncer', () => bouncer?.stop()],
  ]),
);

if (missing) {
  console.log(`SKIP test/integration/pgbouncer/locks.test.ts: ${missing}`);
  test.skip('locks and direct paths through PgBouncer', () => undefined);
} else {
  test('the upkeep lock excludes a second drill or prune through PgBouncer, and is free again after', async () => {
    for (let round = 0; round < 3; round++) {
      const inner = await withUpkeepLock(pooled, 'drill', async () => {
        // Other statements go on meanwhile, on whichever server session is free.
        await pooled.query('SELECT 1');
        return withUpkeepLock(pooled, 'prune', async () => 'ran').catch((e: unknown) => e);
      });
      assert.instance(inner, ConflictError, `round ${round}: the second holder ran`);
      assert.match((inner as Error).message, /another restore drill or backup prune is running/);
    }
    assert.is(await withUpkeepLock(pooled, 'prune', async () => 'ran'), 'ran');
    assert.is(await advisoryLocks(), 0, 'an advisory lock was left held');
  });

  test('the retention run purges expired entries through PgBouncer (fan-out, tenant jobs, receipts)', async () => {
    const tenant = (await createTenant(bulwark.ctx.prisma, { name: 'pgb-retention' })).id;
    await seedEntries(bulwark.ctx.prisma, 30, () => entryAt(tenant, daysAgo(95)));
    const queue = new Queue(RETENTION_QUEUE, { connection: h.redis, prefix: bulwark.ctx.config.queuePrefix });
    try {
      await queue.add(retentionRunJob.name, { v: 1, runId: 'pgbouncer-run' }, retentionRunJob.opts);
      await waitFor(
        async () =>
          (
            await superuserQuery(
              h.db.url,
              `SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'task:done'`,
              [tenant],
            )
          ).rows[0].n === 0,
        'the expired entries purged',
        120_000,
        250,
      );
      const receipts = await superuserQuery(
        h.db.url,
        `SELECT status, deleted::int AS deleted FROM retention_receipts WHERE tenant_id = $1 AND class = 'audit'`,
        [tenant],
      );
      assert.equal(receipts.rows, [{ status: 'done', deleted: 30 }]);
    } finally {
      await queue.close();
    }
  });

  test('a database backup goes direct while the app is pooled, and a restore drill of it passes through PgBouncer', async () => {
    const ctx = { ...h.withConfig(pooledEnv()) };
    assert.is(ctx.config.databaseUrl, bouncer.url(h.db.name));
    const manifest = await createBackup(ctx, { kind: 'database' });
    assert.is(manifest.kind, 'database');
    const record = await performRestoreDrill(
      {
        config: ctx.config,
        prisma: bulwark.ctx.prisma,
        pg: pooled,
        clock: () => new Date(),
        logger: h.ctx.logger,
        backups: drillBackupsOf(ctx),
        alertQueue,
      },
      'cli',
    );
    assert.ok(record.passed, JSON.stringify(record.checks));
    assert.is(await advisoryLocks(), 0);
  });

  test('a backup snapshot through PgBouncer is refused naming DIRECT_DATABASE_URL', async () => {
    const err = await createBackup(h.withConfig(pooledEnv()), {
      kind: 'database',
      databaseUrl: bouncer.url(h.db.name),
    }).catch((e: unknown) => e);
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, /DIRECT_DATABASE_URL: leads to a connection pooler/);
  });

  test('migrations through PgBouncer are refused naming the variable; direct they apply', async () => {
    const err = await migrate(bouncer.url(h.db.name), { urlVariable: 'DIRECT_DATABASE_URL' }).catch((e: unknown) => e);
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, /DIRECT_DATABASE_URL: leads to a connection pooler .*bulwark migrate/);
    assert.is((await migrate(h.db.url)).applied.length, 0);
    assert.is(await advisoryLocks(), 0);
  });

  test('bulwark start in front of PgBouncer without DATABASE_POOLER=pgbouncer is refused naming it', async () => {
    const err = await startBulwark(
      testConfig(bouncer.url(h.db.name), { ...h.env, DATABASE_URL: bouncer.url(h.db.name) }),
      {
        http: false,
      },
    ).catch((e: unknown) => e);
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, /DATABASE_POOLER: must be pgbouncer/);
  });
}

test.run();
