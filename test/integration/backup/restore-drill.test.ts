// The restore drill end to end on the real services (Postgres, s3rver, Redis, pg_dump/
// pg_restore, age): with an empty bucket it fails at backup-found; after a real database
// backup it restores it into a scratch database, passes restore's checks and the smoke
// query, drops the scratch database and records the evidence; a backup with a flipped
// byte in a part fails the drill naming the part, and the scratch database is dropped
// all the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { createBackup } from '../../../lib/backup/create.js';
import { readDrillGauges } from '../../../lib/backup/drill-record.js';
import { scratchPrefix } from '../../../lib/backup/scratch.js';
import { drillBackupsOf } from '../../../lib/backup/upkeep-adapters.js';
import { createPgPool, createPrisma, type PrismaClient } from '../../../lib/clients/prisma.js';
import { ALERT_QUEUE, alertJobSchema } from '../../../lib/contracts/alert.js';
import { createMetrics } from '../../../lib/metrics.js';
import { performRestoreDrill } from '../../../workers/backup/drill.js';
import { startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { ADMIN_URL, superuserQuery } from '../../helpers/db.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

let h: BackupHarness;
let prisma: PrismaClient;
let pool: ReturnType<typeof createPgPool>;
let alertQueue: Queue;
const metrics = createMetrics();

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 2, entries: 120 });
    prisma = createPrisma({ databaseUrl: h.db.url }, { max: 2 });
    pool = createPgPool({ databaseUrl: h.db.url }, 2);
    alertQueue = new Queue(ALERT_QUEUE, { connection: h.redis, prefix: h.config.queuePrefix });
  }),
);
test.after(
  cleanup([
    ['alert queue', () => alertQueue?.close()],
    ['queues', () => obliterateQueues(h.config.queuePrefix)],
    ['prisma', () => prisma?.$disconnect()],
    ['pool', () => pool?.end()],
    ['harness', () => h?.close()],
  ]),
);

const drill = () =>
  performRestoreDrill(
    {
      config: h.config,
      prisma,
      pg: pool,
      clock: () => new Date(),
      logger: h.ctx.logger,
      metrics,
      backups: drillBackupsOf(h.ctx),
      alertQueue,
    },
    'schedule',
  );
const scratchLeft = async () =>
  (
    await superuserQuery(ADMIN_URL, 'SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [
      scratchPrefix(h.db.url),
    ])
  ).rows.map((r) => r.datname as string);
const alerts = async () =>
  (await alertQueue.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => alertJobSchema.parse(j.data).alert);

test('restore drill: an empty backup bucket is a failed drill at backup-found', async () => {
  const record = await drill();
  assert.is(record.passed, false);
  assert.equal(
    record.checks.map((c) => `${c.name}:${c.ok}`),
    ['backup-found:false'],
  );
  assert.match(record.error!, /no backup to drill/);
  assert.equal(await scratchLeft(), []);
});

test('restore drill: the newest database backup restores, passes every check, and the scratch database is gone', async () => {
  const older = await createBackup(h.ctx, { kind: 'database' });
  const entries = (await superuserQuery(h.db.url, 'SELECT count(*)::int AS n FROM audit_log')).rows[0].n as number;
  const manifest = await createBackup(h.ctx, { kind: 'database' });
  assert.ok(manifest.id > older.id);
  const record = await drill();
  assert.ok(record.passed, `drill failed: ${record.error}\n${JSON.stringify(record.checks, null, 1)}`);
  assert.is(record.backupId, manifest.id, 'the newest backup is the one drilled');
  const names = record.checks.map((c) => c.name);
  for (const name of [
    'backup-found',
    'scratch-created',
    'restore',
    'restore:migrations',
    'restore:rows',
    'restore:audit-chain-heads',
    'restore:audit-chains',
    'restore:audit_log-append-only',
    'smoke-query',
    'scratch-dropped',
  ])
    assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  assert.ok(record.checks.every((c) => c.ok));
  assert.is(
    record.checks.find((c) => c.name === 'smoke-query')!.detail!,
    `3 tenants, ${entries} audit entries`,
    'the restored rows, counted in the scratch database',
  );
  assert.ok(record.durationMs! > 0, 'the restore was timed');
  assert.ok(record.backupAgeSeconds! >= 0 && record.backupAgeSeconds! < 600, `backup age ${record.backupAgeSeconds}`);
  assert.equal(await scratchLeft(), [], 'the scratch database is dropped');

  const [entry] = (await superuserQuery(h.db.url, `SELECT * FROM audit_entries WHERE action = 'backup:drill-passed'`))
    .rows;
  assert.is(entry.resource_id, manifest.id);
  assert.is(entry.actor_id, 'bulwark-scheduler');
  assert.is(entry.metadata.drill_id, record.id);
  assert.equal(entry.metadata.failed_checks, []);

  const gauges = await readDrillGauges(pool);
  assert.is(gauges.lastSuccess, gauges.lastRun, 'the newest drill passed');
  assert.is(gauges.durationSeconds, record.durationMs! / 1000);
  assert.equal(
    (await alerts()).map((a) => a.type),
    ['backup:drill-failed'],
    'only the empty-bucket drill alerted',
  );
});

test('restore drill: a flipped byte in a part fails the drill naming the part; the scratch database is dropped', async () => {
  const manifest = await createBackup(h.ctx, { kind: 'database' });
  const part = manifest.parts.find((p) => p.stream === 'database')!;
  const { client, backupBucket } = h.ctx.storage;
  const chunks: Buffer[] = [];
  for await (const c of await client.getObject(backupBucket, part.key)) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  body[Math.floor(body.length / 2)]! ^= 0x01;
  await client.putObject(backupBucket, part.key, body, body.length);

  const record = await drill();
  assert.is(record.passed, false);
  assert.is(record.backupId, manifest.id);
  const restore = record.checks.find((c) => c.name === 'restore')!;
  assert.is(restore.ok, false);
  assert.ok(restore.detail!.includes(part.key.split('/').pop()!), `the part is named: ${restore.detail}`);
  assert.not.ok(
    record.checks.some((c) => c.name === 'smoke-query'),
    'no smoke query after a failed restore',
  );
  assert.ok(record.checks.find((c) => c.name === 'scratch-dropped')?.ok);
  assert.equal(await scratchLeft(), []);
  assert.match(record.error!, /^restore: /);
  const failed = (await alerts()).filter((a) => a.labels?.drill_id === record.id);
  assert.is(failed.length, 1);
  assert.is(failed[0]!.labels?.backup_id, manifest.id);
  assert.match(
    await metrics.registry.getSingleMetricAsString('bulwark_restore_drill_failures_total'),
    /^bulwark_restore_drill_failures_total 2$/m,
  );
  const gauges = await readDrillGauges(pool);
  assert.ok(gauges.lastRun > gauges.lastSuccess, 'the newest drill failed');
});

test.run();
