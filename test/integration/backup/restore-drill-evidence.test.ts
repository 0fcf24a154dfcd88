// Restore drill evidence on the real services: a drill with no backup to restore is a
// failed drill, recorded as a restore_drills row and a backup:drill-failed audit entry
// (system tenant, in one transaction), counted, logged and alerted with its runbook
// link; the gauges read the newest drills from the table; a second drill while one
// holds the upkeep lock is refused; scratch databases left by a crashed drill are
// dropped, and nothing else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import pg from 'pg';
import { SYSTEM_TENANT_ID } from '../../../lib/audit/record.js';
import { dropLeftoverScratches, scratchName, scratchPrefix } from '../../../lib/backup/scratch.js';
import { readDrillGauges, listDrills } from '../../../lib/backup/drill-record.js';
import { UPKEEP_LOCK_KEY } from '../../../lib/backup/upkeep-lock.js';
import { ALERT_QUEUE, alertJobSchema } from '../../../lib/contracts/alert.js';
import type { AppContext } from '../../../lib/context.js';
import { ConflictError } from '../../../lib/errors.js';
import { createContext } from '../../../app/main.js';
import { performRestoreDrill } from '../../../workers/backup/drill.js';
import { ADMIN_URL, createTestDatabase, superuserQuery, urlFor, type TestDatabase } from '../../helpers/db.js';
import { captureLogs, testConfig } from '../../helpers/env.js';
import { runCli } from '../../helpers/cli.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { obliterateQueues } from '../../helpers/queues.js';

let db: TestDatabase;
let ctx: AppContext;
let alertQueue: Queue;
const logs = captureLogs();
const RUNBOOKS = 'https://runbooks.example.com/bulwark/docs/runbooks';
/** Backups as the bucket lists them: none. */
const noBackups = { list: async () => [], restore: async () => assert.unreachable('nothing to restore') };

test.before(
  setup(async () => {
    db = await createTestDatabase();
    ctx = createContext(testConfig(db.url, { RUNBOOK_BASE_URL: RUNBOOKS, LOG_LEVEL: 'info' }), {
      logDestination: logs.stream,
    });
    alertQueue = new Queue(ALERT_QUEUE, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
  }),
);
test.after(
  cleanup([
    ['alert queue', () => alertQueue?.close()],
    ['queues', () => obliterateQueues(ctx.config.queuePrefix)],
    ['prisma', () => ctx?.prisma.$disconnect()],
    ['pool', () => ctx?.pg.end()],
    ['redis', () => ctx?.redis.quit()],
    ['database', () => db?.drop()],
  ]),
);

const deps = () => ({
  config: ctx.config,
  prisma: ctx.prisma,
  pg: ctx.pg,
  clock: ctx.clock,
  logger: ctx.logger,
  metrics: ctx.metrics,
  backups: noBackups,
  alertQueue,
});

test('drill evidence: the gauges read 0 before any drill', async () => {
  assert.equal(await readDrillGauges(ctx.pg), { lastRun: 0, lastSuccess: 0, durationSeconds: 0, backupAgeSeconds: 0 });
});

test('drill evidence: no backup to drill is a failed drill, recorded, audited, counted, logged and alerted', async () => {
  const record = await performRestoreDrill(deps(), 'cli');
  assert.is(record.passed, false);
  assert.is(record.backupId, undefined);
  assert.is(record.durationMs, undefined, 'no restore ran, so no restore time');
  assert.equal(
    record.checks.map((c) => [c.name, c.ok]),
    [['backup-found', false]],
  );
  assert.match(record.error!, /^backup-found: no backup to drill/);

  const [row] = (await superuserQuery(db.url, 'SELECT * FROM restore_drills')).rows;
  assert.is(row.id, record.id);
  assert.is(row.passed, false);
  assert.is(row.backup_id, null);
  assert.is(row.trigger, 'cli');
  assert.ok(row.finished_at >= row.started_at);
  assert.equal(row.checks[0].name, 'backup-found');

  // The audit entry, chained in the system tenant's log, in the same transaction.
  const [entry] = (
    await superuserQuery(db.url, `SELECT * FROM audit_entries WHERE tenant_id = $1 AND action LIKE 'backup:%'`, [
      SYSTEM_TENANT_ID,
    ])
  ).rows;
  assert.is(entry.action, 'backup:drill-failed');
  assert.is(entry.actor_type, 'system');
  assert.is(entry.actor_id, 'bulwark-cli');
  assert.is(entry.event_id, `restore-drill-${record.id}`);
  assert.is(entry.metadata.drill_id, record.id);
  assert.equal(entry.metadata.failed_checks, ['backup-found']);
  assert.match(entry.reason, /no backup to drill/);

  assert.match(
    await ctx.metrics.registry.getSingleMetricAsString('bulwark_restore_drill_failures_total'),
    /bulwark_restore_drill_failures_total 1/,
  );
  const failed = logs.events().find((e) => e.event === 'restore_drill_failed');
  assert.ok(failed, 'restore_drill_failed logged');
  assert.is(failed!.drill_id, record.id);

  // The alert: system tenant, critical, its runbook, valid against the alert contract.
  const jobs = await alertQueue.getJobs(['waiting', 'delayed', 'prioritized']);
  assert.is(jobs.length, 1);
  const alert = alertJobSchema.parse(jobs[0]!.data).alert;
  assert.is(alert.type, 'backup:drill-failed');
  assert.is(alert.tenantId, SYSTEM_TENANT_ID);
  assert.is(alert.severity, 'critical');
  assert.is(alert.runbookUrl, `${RUNBOOKS}/restore-drill-failing.md`);
  assert.is(alert.labels?.drill_id, record.id);
  assert.is(alert.id[14], '8', 'an id of the version reserved for alerts Bulwark raises');

  const gauges = await readDrillGauges(ctx.pg);
  assert.is(gauges.lastRun, row.finished_at.getTime() / 1000);
  assert.is(gauges.lastSuccess, 0, 'a failed drill is no success');
  assert.equal(
    (await listDrills(ctx.prisma)).map((d) => d.id),
    [record.id],
  );
});

test('drill evidence: the gauges at scrape time report the newest passed drill, and every drill for last_run', async () => {
  const at = (s: string) => new Date(s);
  await superuserQuery(
    db.url,
    `INSERT INTO restore_drills (id, backup_id, started_at, finished_at, duration_ms, backup_age_seconds, checks, passed, trigger) VALUES
       (gen_random_uuid(), '20261201T010000Z', $1, $2, 4500, 7200, '[]', true, 'schedule'),
       (gen_random_uuid(), '20261120T010000Z', $3, $4, 9000, 3600, '[]', true, 'schedule')`,
    [at('2026-12-01T03:00:00Z'), at('2026-12-01T03:01:00Z'), at('2026-11-22T03:00:00Z'), at('2026-11-22T03:02:00Z')],
  );
  ctx.metrics.setDrillSource(() => readDrillGauges(ctx.pg));
  const text = await ctx.metrics.registry.metrics();
  assert.match(
    text,
    `bulwark_restore_drill_last_success_timestamp_seconds ${Date.parse('2026-12-01T03:01:00Z') / 1000}\n`,
  );
  assert.match(text, 'bulwark_restore_drill_duration_seconds 4.5\n');
  assert.match(text, 'bulwark_restore_drill_backup_age_seconds 7200\n');
  const lastRun = Number(/^bulwark_restore_drill_last_run_timestamp_seconds (\S+)$/m.exec(text)![1]);
  assert.ok(
    lastRun > Date.parse('2026-12-01T03:01:00Z') / 1000,
    'the failed drill of the test before is the newest run',
  );
  assert.equal(
    (await listDrills(ctx.prisma, 2)).map((d) => d.backupId),
    [undefined, '20261201T010000Z'],
  );
});

test('drill evidence: `bulwark backup drills` lists the evidence newest first, with the failed check', async () => {
  const env = { DATABASE_URL: db.url };
  const r = await runCli(['backup', 'drills', '--limit', '2'], env);
  assert.is(r.code, 0, r.err);
  const [first, check, second] = r.outLines;
  assert.match(first!, /^\S+Z\tFAILED\t\(no backup\)\trestore -\tbackup age -\tcli\t[0-9a-f-]{36}$/);
  assert.match(check!, /^  FAIL backup-found \(\d+ ms\): no backup to drill/);
  assert.is(
    second,
    `2026-12-01T03:00:00.000Z\tPASSED\t20261201T010000Z\trestore 4.5 s\tbackup age 2h 0m\tschedule\t${second!.split('\t')[6]}`,
  );
  assert.is(r.outLines.at(-1), '2 drill(s); newest FAILED');
  const bad = await runCli(['backup', 'drills', '--limit', '0'], env);
  assert.is(bad.code, 2);
  assert.match(bad.err, /--limit/);
});

test('drill evidence: a second drill while the upkeep lock is held is refused and records nothing', async () => {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1)', [UPKEEP_LOCK_KEY]);
    const before = (await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM restore_drills')).rows[0].n;
    try {
      await performRestoreDrill(deps(), 'cli');
      assert.unreachable('should refuse');
    } catch (err) {
      assert.instance(err, ConflictError);
      assert.match((err as Error).message, /another restore drill or backup prune is running/);
    }
    assert.is((await superuserQuery(db.url, 'SELECT count(*)::int AS n FROM restore_drills')).rows[0].n, before);
  } finally {
    await holder.end();
  }
});

test('drill evidence: scratch databases left by a crashed drill are dropped, look-alikes are not', async () => {
  const left = scratchName(db.url, '20261206T010000Z');
  const alike = `${scratchPrefix(db.url)}keep_me`;
  assert.ok(left.startsWith(`${db.name}_drill_`) && left.length <= 63, left);
  await superuserQuery(ADMIN_URL, `CREATE DATABASE ${left}`);
  await superuserQuery(ADMIN_URL, `CREATE DATABASE ${alike}`);
  try {
    assert.equal(await dropLeftoverScratches(db.url), [left]);
    const names = (
      await superuserQuery(ADMIN_URL, 'SELECT datname FROM pg_database WHERE datname = ANY($1)', [[left, alike]])
    ).rows.map((r) => r.datname);
    assert.equal(names, [alike]);
  } finally {
    await superuserQuery(ADMIN_URL, `DROP DATABASE IF EXISTS ${alike}`);
    await superuserQuery(ADMIN_URL, `DROP DATABASE IF EXISTS ${left}`);
  }
  // A long database name still makes names Postgres keeps whole.
  const long = urlFor(`x${'y'.repeat(62)}`);
  assert.ok(scratchName(long, '20261206T010000Z').length <= 63);
  assert.is.not(scratchPrefix(long), scratchPrefix(urlFor(`x${'y'.repeat(61)}z`)));
});

test.run();
