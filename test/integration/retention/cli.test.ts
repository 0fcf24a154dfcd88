// The retention and hold commands against the real Postgres and a real S3 server: TTL
// settings refused naming the field, holds added, listed, released (audited, history
// kept), a dry run that deletes nothing, a real run of every row and object class with
// receipts and a progress bar moved per batch on a terminal (none in a pipe), and a run
// whose object store is unreachable (exit 1, the rows still purged).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { createCliTenant, runCli } from '../../helpers/cli.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';
import { cleanup } from '../../helpers/lifecycle.js';
import { listKeys, putObjects, startRetentionStore, type RetentionStore } from '../../helpers/retention-store.js';

let db: TestDatabase;
let store: RetentionStore;
let tenant: string;
const MASTER_KEYS = `k1:${generateFernetKey()}`;
const env = () => ({ DATABASE_URL: db.url, MASTER_KEYS, LOG_LEVEL: 'warn', ...store.env });
const run = (args: string[], isTTY = false) => runCli(args, env(), { isTTY });
const q = async (sql: string, params: unknown[] = []) => (await superuserQuery(db.url, sql, params)).rows;

let rawOld: string[];
let rawLive: string[];

test.before(async () => {
  db = await createTestDatabase();
  store = await startRetentionStore();
  tenant = await createCliTenant(run, 'retention-cli');
  // Objects: 3 raw snapshots 40 days old (TTL 30), 2 from yesterday.
  rawOld = await putObjects(store.storage, tenant, 'snapshots/raw', 40, 3, 'old');
  rawLive = await putObjects(store.storage, tenant, 'snapshots/raw', 1, 2, 'new');
  // Old rows of every row class: 3 alerts received 200 days ago (one by a held user), 2
  // revoked keys 200 days ago, 2 secret rotations 400 days ago; and a young one of each.
  for (const [i, days, user] of [
    [1, 200, 'u-1'],
    [2, 200, 'u-held'],
    [3, 200, 'u-1'],
    [4, 1, 'u-1'],
  ] as const) {
    await q(
      `INSERT INTO alert_ledger (id, tenant_id, type, severity, title, group_key, user_id, occurred_at, received_at, outcome)
       VALUES ($1, $2, 'disk', 'warning', 't${i}', 'g', $3, now() - make_interval(days => $4), now() - make_interval(days => $4), 'delivered')`,
      [randomUUID(), tenant, user, days],
    );
  }
  for (const days of [200, 200, 1]) {
    await q(
      `INSERT INTO api_keys (id, tenant_id, name, display_prefix, hash, scopes, expires_at, revoked_at) VALUES ($1, $2, $3, 'bwk_x', $4, '{admin}', now() + interval '1 day', now() - make_interval(days => $5))`,
      [randomUUID(), tenant, `old-${randomUUID()}`, randomUUID().replaceAll('-', '').padEnd(64, '0'), days],
    );
  }
  assert.is(
    (
      await runCli(['secret', 'set', '--tenant', tenant, '--name', 'hook'], env(), {
        stdin: (await import('node:stream')).Readable.from([Buffer.from('v1')]),
      })
    ).code,
    0,
  );
  const [secret] = await q(`SELECT id FROM secrets WHERE tenant_id = $1`, [tenant]);
  for (const days of [400, 400, 1])
    await q(
      `INSERT INTO secret_rotations (secret_id, tenant_id, from_version, to_version, rotated_at) VALUES ($1, $3, 1, 2, now() - make_interval(days => $2))`,
      [secret.id, days, tenant],
    );
});
test.after(
  cleanup([
    ['drop database', () => db?.drop()],
    ['stop store', () => store?.stop()],
  ]),
);

test('retention TTLs of 0, negative, absurd or the wrong type are refused naming the field; a good one is audited', async () => {
  for (const [pair, field, words] of [
    ['retention.defaultDays=0', 'retention.defaultDays', 'at least 1 day'],
    ['retention.securityDays=-5', 'retention.securityDays', 'at least 1 day'],
    ['retention.alertLedgerDays=100000', 'retention.alertLedgerDays', 'at most 3650'],
    ['retention.objects.snapshotsRaw="thirty"', 'retention.objects.snapshotsRaw', 'whole number of days'],
    ['retention.endedKeysDays=1.5', 'retention.endedKeysDays', 'whole number'],
    ['retention.objects.videos=3', 'retention.objects', 'videos'],
  ] as const) {
    const r = await run(['tenant', 'settings', 'set', '--tenant', tenant, pair]);
    assert.is(r.code, 2, `${pair}: ${r.err}`);
    assert.match(r.err, field, pair);
    assert.match(r.err, words, pair);
  }
  const ok = await run(['tenant', 'settings', 'set', '--tenant', tenant, 'retention.rotationHistoryDays=300']);
  assert.is(ok.code, 0, ok.err);
  const [entry] = await q(
    `SELECT before_state, after_state FROM audit_entries WHERE tenant_id = $1 AND action = 'settings:updated' ORDER BY seq DESC LIMIT 1`,
    [tenant],
  );
  assert.is(entry.before_state.retention.rotationHistoryDays, 365);
  assert.is(entry.after_state.retention.rotationHistoryDays, 300);
});

test('hold add refuses an unknown tenant, two scopes, no scope, a past --until; adds, lists and releases with audit entries', async () => {
  const ghost = await run(['hold', 'add', '--tenant', randomUUID(), '--all', '--reason', 'litigation']);
  assert.is(ghost.code, 1);
  assert.match(ghost.err, 'no tenant with id');
  assert.is(
    (await run(['hold', 'add', '--tenant', tenant, '--all', '--actor', 'x', '--reason', 'litigation'])).code,
    2,
  );
  assert.match((await run(['hold', 'add', '--tenant', tenant, '--reason', 'litigation'])).err, 'exactly one of --all');
  const past = await run([
    'hold',
    'add',
    '--tenant',
    tenant,
    '--all',
    '--reason',
    'litigation',
    '--until',
    '2020-01-01',
  ]);
  assert.is(past.code, 2);
  assert.match(past.err, 'until');
  const bad = await run(['hold', 'add', '--tenant', tenant, '--resource', 'nocolon', '--reason', 'litigation']);
  assert.match(bad.err, 'resource: must look like TYPE:ID');
  const added = await run([
    'hold',
    'add',
    '--tenant',
    tenant,
    '--actor',
    'u-held',
    '--reason',
    'case 17',
    '--until',
    '2099-01-01',
  ]);
  assert.is(added.code, 0, added.err);
  const all = await run(['hold', 'add', '--tenant', tenant, '--all', '--reason', 'short-lived']);
  const listed = await run(['hold', 'list', '--tenant', tenant]);
  assert.match(listed.out, 'actor u-held');
  assert.match(listed.out, '2 hold(s)');
  const rel = await run(['hold', 'release', all.outLines[0]!, '--reason', 'filed by mistake']);
  assert.is(rel.code, 0, rel.err);
  assert.is(
    (await run(['hold', 'release', all.outLines[0]!, '--reason', 'again'])).code,
    1,
    'a released hold cannot be released twice',
  );
  assert.match((await run(['hold', 'list', '--tenant', tenant])).out, '1 hold(s)');
  const history = await run(['hold', 'list', '--tenant', tenant, '--released']);
  assert.match(history.out, 'released');
  assert.match(history.out, 'filed by mistake');
  const actions = (
    await q(`SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'hold:%' ORDER BY seq`, [tenant])
  ).map((r) => r.action);
  assert.equal(actions, ['hold:added', 'hold:added', 'hold:released']);
});

test('retention run --dry-run prints per class what would go and what holds keep, and deletes nothing', async () => {
  const counts = async () =>
    (
      await q(
        `SELECT (SELECT count(*) FROM alert_ledger)::int AS a, (SELECT count(*) FROM api_keys)::int AS k, (SELECT count(*) FROM secret_rotations)::int AS s`,
      )
    )[0];
  const before = await counts();
  const r = await run(['retention', 'run', '--dry-run', '--tenant', tenant]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /\talerts\tttl 90d\t.*would delete 2 .*holds keep 1/);
  assert.match(r.out, /\tapikeys\tttl 90d\t.*would delete 2/);
  assert.match(r.out, /\tsecret-rotations\tttl 300d\t.*would delete 2/);
  assert.match(r.out, /\tobjects:snapshots-raw\tttl 30d\t.*would delete 3, 30 bytes \(/);
  assert.match(r.out, /\tobjects:reports\tttl 365d\t.*would delete 0, 0 bytes/);
  const json = JSON.parse((await run(['retention', 'run', '--dry-run', '--tenant', tenant, '--json'])).out);
  assert.is(json[0].classes.find((c: { class: string }) => c.class === 'alerts').held, 1);
  assert.equal(await counts(), before);
  assert.equal(await listKeys(store.storage, `tenant/${tenant}/`), [...rawOld, ...rawLive].sort());
  assert.is((await q(`SELECT count(*)::int AS n FROM retention_receipts`))[0].n, 0, 'a dry run leaves no receipt');
});

test('retention run deletes every expired row and object class, moving its bar per batch on a terminal, leaves receipts and retention:purged entries; receipts lists them', async () => {
  const r = await run(['retention', 'run', '--tenant', tenant], true);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /\talerts\t.*deleted 2 .*holds keep 1/);
  assert.match(r.out, /\tobjects:snapshots-raw\t.*deleted 3, 30 bytes/);
  assert.equal(await listKeys(store.storage, `tenant/${tenant}/`), rawLive);
  // 2 alerts, 2 keys, 2 rotations, 3 objects: one batch per class, the bar moved after each.
  const frames = r.progress.split('\r').filter(Boolean);
  assert.equal(
    frames.map((f) => f.replace(/ \[[#.]+\]/, '').trim()),
    ['purging 0% (0/9)', 'purging 22% (2/9)', 'purging 44% (4/9)', 'purging 66% (6/9)', 'purging 100% (9/9)'],
  );
  const left = (
    await q(
      `SELECT (SELECT count(*) FROM alert_ledger)::int AS a, (SELECT count(*) FROM api_keys WHERE name LIKE 'old-%')::int AS k, (SELECT count(*) FROM secret_rotations)::int AS s`,
    )
  )[0];
  assert.equal(left, { a: 2, k: 1, s: 1 });
  const receipts = await run(['retention', 'receipts', '--tenant', tenant, '--json']);
  const rows = JSON.parse(receipts.out) as Array<{ class: string; deleted: number; status: string; digest: string }>;
  assert.ok(rows.every((x) => x.status === 'done'));
  assert.is(rows.find((x) => x.class === 'secret-rotations')!.deleted, 2);
  const purged = await q(`SELECT metadata FROM audit_entries WHERE tenant_id = $1 AND action = 'retention:purged'`, [
    tenant,
  ]);
  assert.equal(purged.map((p) => p.metadata.class).sort(), [
    'alerts',
    'apikeys',
    'objects:snapshots-raw',
    'secret-rotations',
  ]);
  assert.is((await run(['audit', 'verify', '--tenant', tenant])).code, 0);
});

test('in a pipe a real run draws no bar; with the object store unreachable it purges the rows, says which classes stopped and exits 1', async () => {
  const other = await createCliTenant(run, 'retention-cli-outage');
  await putObjects(store.storage, other, 'snapshots/raw', 40, 2, 'x');
  await q(
    `INSERT INTO alert_ledger (id, tenant_id, type, severity, title, group_key, occurred_at, received_at, outcome)
     VALUES ($1, $2, 'disk', 'warning', 't', 'g', now() - interval '200 days', now() - interval '200 days', 'delivered')`,
    [randomUUID(), other],
  );
  store.proxy.block();
  const r = await run(['retention', 'run', '--tenant', other]).finally(() => store.proxy.unblock());
  assert.is(r.code, 1);
  assert.is(r.progress, '');
  assert.match(r.out, /\talerts\t.*deleted 1/);
  assert.match(
    r.out,
    /\tobjects:snapshots-raw\t.*FAILED after deleting 0: object store at http:\/\/127\.0\.0\.1:\d+ \(S3_ENDPOINT\) failed to list/,
  );
  assert.match(r.out, 'stays running and the next run resumes it');
  assert.match(r.err, '4 class(es) stopped because the object store failed');
  const receipts = JSON.parse((await run(['retention', 'receipts', '--tenant', other, '--json'])).out) as Array<{
    class: string;
    status: string;
    error: string | null;
  }>;
  const raw = receipts.find((x) => x.class === 'objects:snapshots-raw')!;
  assert.is(raw.status, 'running');
  assert.match(raw.error!, 'S3_ENDPOINT');
  const again = await run(['retention', 'run', '--tenant', other]);
  assert.is(again.code, 0, again.err);
  assert.match(again.out, /\tobjects:snapshots-raw\t.*deleted 2, 20 bytes/);
  assert.equal(await listKeys(store.storage, `tenant/${other}/`), []);
});

test.run();
