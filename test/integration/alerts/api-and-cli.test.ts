// The alert surfaces around the worker: POST /v1/alerts refusing bad input with the
// JSON error naming each bad field and enqueuing nothing, and `bulwark alerts log`
// filtering the ledger by --since and --outcome (and refusing bad values with exit 2).
// A real Bulwark with its HTTP API, Redis, Postgres and a receiver on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { requireMasterKeys } from '../../../lib/config.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { runCli } from '../../helpers/cli.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

let api: ApiHarness;
let receiver: Receiver;
let alerts: Queue;
test.before(setup(async () => {
  receiver = await startReceiver();
  api = await startApi();
  alerts = new Queue(ALERT_QUEUE, { connection: api.bulwark.ctx.redis, prefix: api.bulwark.ctx.config.queuePrefix });
}));
test.after(cleanup([
  ['close alert queue', () => alerts?.close()],
  ['close api', () => api?.close()],
  ['close receiver', () => receiver?.close()],
]));

interface ErrorBody { error: { code: string; message: string; fields: Array<{ path: string; message: string }> } }
/** Jobs of the alert queue in any state (a job the worker already finished counts too). */
const alertJobs = async () => Object.values(await alerts.getJobCounts()).reduce((a, b) => a + b, 0);

test('POST /v1/alerts with bad input: 400 naming each bad field, and nothing enqueued', async () => {
  const t = await api.tenant('bad-alerts');
  const cases: Array<[body: Record<string, unknown>, fields: string[]]> = [
    [{ type: 'disk.full', severity: 'urgent' }, ['severity', 'title']],
    [{ type: 'Disk Full!', severity: 'warning', title: '', runbookUrl: 'ftp://runbooks.example/disk' }, ['runbookUrl', 'title', 'type']],
  ];
  for (const [body, fields] of cases) {
    const res = await api.call('POST', '/v1/alerts', { key: t.adminKey, body });
    assert.is(res.status, 400, JSON.stringify(body));
    assert.match(String(res.headers.get('content-type')), /^application\/json/);
    const { error } = (await res.json()) as ErrorBody;
    assert.is(error.code, 'validation_failed');
    assert.equal(error.fields.map((f) => f.path).sort(), fields, error.message);
    for (const f of error.fields) {
      if (f.path === 'severity') assert.is(f.message, 'must be one of info, warning, high, critical');
      if (f.path === 'title' && !('title' in body)) assert.is(f.message, 'is required');
      assert.ok(f.message.length > 0, `${f.path} has a message`);
      assert.match(error.message, `${f.path}: ${f.message}`, 'the message names each field too');
    }
  }
  // A body that is not an object is named for what it should have been.
  const notObject = await api.call('POST', '/v1/alerts', { key: t.adminKey, body: [] });
  assert.is(notObject.status, 400);
  assert.is(((await notObject.json()) as ErrorBody).error.message, 'invalid alert: (root): must be a JSON object');
  assert.is(await alertJobs(), 0, 'the alert queue has no job');
  // The same count sees a job when one is enqueued: the check above is not blind.
  const ok = await api.call('POST', '/v1/alerts', { key: t.adminKey, body: { type: 'disk.full', severity: 'warning', title: 'Disk almost full' } });
  assert.is(ok.status, 202);
  const { alertId } = (await ok.json()) as { alertId: string };
  assert.is(await alertJobs(), 1);
  assert.ok(await alerts.getJob(`alert-${t.id}-${alertId}`));
});

/** Run `bulwark alerts log` with the flags; exit code and what it wrote. */
async function alertsLog(tenantId: string, ...flags: string[]) {
  const r = await runCli(['alerts', 'log', '--tenant', tenantId, ...flags], { DATABASE_URL: api.db.url });
  return { code: r.code, out: r.outLines, err: r.err };
}
/** The titles of the printed alert lines (their last field), in printed order. */
const titles = (out: string[]) => out.filter((l) => l.includes('\tattempts ')).map((l) => l.split('\t').at(-1));

test('`bulwark alerts log --since … --outcome …` prints only the rows that match; bad values are a clear error, exit 2', async () => {
  const t = await api.tenant('alerts-log');
  await setSecret(api.bulwark.ctx.prisma, requireMasterKeys(api.bulwark.ctx.config), { tenantId: t.id, name: 'hook', value: 'alerts-log-signing-secret' }, { type: 'user', id: 't' });
  const added = await api.call('POST', '/v1/channels', { key: t.adminKey, body: { name: 'ops', type: 'webhook', target: `${receiver.url}/log`, secretRef: 'secret://hook', severities: ['warning', 'high', 'critical'] } });
  assert.is(added.status, 201);
  /** Post an alert and wait until the worker has decided and sent it: its row's final outcome. */
  const settle = async (body: Record<string, unknown>) => {
    const res = await api.call('POST', '/v1/alerts', { key: t.adminKey, body });
    assert.is(res.status, 202);
    const { alertId } = (await res.json()) as { alertId: string };
    const outcome = await waitFor(async () => {
      const o = (await superuserQuery(api.db.url, 'SELECT outcome FROM alert_ledger WHERE id = $1', [alertId])).rows[0]?.outcome as string | undefined;
      return o && o !== 'received' && o !== 'delivering' ? o : undefined;
    }, `alert ${alertId} settled`, 30_000);
    return { alertId, outcome };
  };
  const old = await settle({ type: 'disk.old', severity: 'warning', title: 'Old disk alert' });
  const fresh = await settle({ type: 'disk.full', severity: 'warning', title: 'Disk full' });
  const cooled = await settle({ type: 'disk.full', severity: 'warning', title: 'Disk full again' });
  const unrouted = await settle({ type: 'backup.done', severity: 'info', title: 'Backup done' });
  assert.equal([old.outcome, fresh.outcome, cooled.outcome, unrouted.outcome], ['delivered', 'delivered', 'suppressed', 'failed']);
  // The first alert was received two days ago.
  await superuserQuery(api.db.url, `UPDATE alert_ledger SET received_at = now() - interval '2 days' WHERE id = $1`, [old.alertId]);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString();

  const all = await alertsLog(t.id);
  assert.is(all.code, 0, all.err);
  assert.equal(titles(all.out), ['Backup done', 'Disk full again', 'Disk full', 'Old disk alert']);
  assert.is(all.out.at(-1), '4 alert(s)');

  const cases: Array<[flags: string[], expected: string[]]> = [
    [['--outcome', 'delivered'], ['Disk full', 'Old disk alert']],
    [['--outcome', 'suppressed'], ['Disk full again']],
    [['--outcome', 'failed'], ['Backup done']],
    [['--outcome', 'deferred'], []],
    [['--since', yesterday], ['Backup done', 'Disk full again', 'Disk full']],
    [['--since', yesterday, '--outcome', 'delivered'], ['Disk full']],
  ];
  for (const [flags, expected] of cases) {
    const r = await alertsLog(t.id, ...flags);
    assert.is(r.code, 0, r.err);
    assert.equal(titles(r.out), expected, flags.join(' '));
    assert.is(r.out.at(-1), `${expected.length} alert(s)`, flags.join(' '));
  }
  // Pages: the last line gives the cursor to the older ones, and that page holds the rest.
  const first = await alertsLog(t.id, '--limit', '3');
  assert.equal(titles(first.out), ['Backup done', 'Disk full again', 'Disk full']);
  const cursor = /add --cursor (\S+)$/.exec(first.out.at(-1)!)?.[1];
  assert.ok(cursor, first.out.at(-1));
  const older = await alertsLog(t.id, '--limit', '3', '--cursor', cursor!);
  assert.equal(titles(older.out), ['Old disk alert']);
  assert.is(older.out.at(-1), '1 alert(s)', 'no cursor past the last page');
  assert.match(all.out.find((l) => l.endsWith('\tDisk full'))!, '\tHTTP 200\t', 'the last send\'s status');
  const cooledLine = (await alertsLog(t.id, '--outcome', 'suppressed')).out[0]!;
  assert.match(cooledLine, /\tsuppressed\tcooldown\twarning\tdisk\.full\t/);

  const badOutcome = await alertsLog(t.id, '--outcome', 'sent');
  assert.is(badOutcome.code, 2);
  assert.equal(badOutcome.out, [], 'nothing printed on stdout');
  assert.match(badOutcome.err, 'outcome: must be one of received, delivering, delivered, suppressed, grouped, deferred, failed');
  for (const since of ['yesterday', '2026-11-01T00:00:00']) {
    const badSince = await alertsLog(t.id, '--since', since);
    assert.is(badSince.code, 2, since);
    assert.equal(badSince.out, []);
    assert.match(badSince.err, 'since: must be an ISO 8601 date-time with a zone', since);
  }
});

test.run();
