// The bulwark CLI through its entry function (same code as bin/bulwark.js), against
// the real Postgres: exit codes, output and clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomPrefix } from '../../helpers/env.js';
import { obliterateQueues } from '../../helpers/queues.js';
import { workerEnv } from '../../helpers/worker-process.js';
import { createCliTenant, runBin, runCli, startUntilExit } from '../../helpers/cli.js';
import { startS3Server } from '../../helpers/s3.js';
import { ADMIN_URL, createTestDatabase, superuserQuery, urlFor, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;

const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { DATABASE_URL: db.url, LOG_LEVEL: 'warn', ...env });

test.before(async () => {
  db = await createTestDatabase();
});
test.after(async () => {
  await db.drop();
});

test('help and usage errors exit 0 and 2', async () => {
  assert.is((await run(['help'])).code, 0);
  const unknown = await run(['frobnicate']);
  assert.is(unknown.code, 2);
  assert.match(unknown.err, 'unknown command "frobnicate"');
  const badFlag = await run(['tenant', 'create', '--name', 'x', '--colour', 'red']);
  assert.is(badFlag.code, 2);
  assert.match(badFlag.err, /colour/);
  const missing = await run(['tenant', 'create']);
  assert.is(missing.code, 2);
  assert.match(missing.err, '--name is required');
});

test('tenant create prints the id; a duplicate name and bad input are clear errors', async () => {
  const ok = await run(['tenant', 'create', '--name', 'cli-tenant', '--timezone', 'Europe/Berlin']);
  assert.is(ok.code, 0, ok.err);
  // stdout is the id and the key, one per line and bare, as `apikey create` prints a key.
  const [id, key, ...rest] = ok.out.split('\n');
  assert.match(id!, /^[0-9a-f-]{36}$/);
  assert.match(key!, /^bwk_[A-Za-z0-9_-]{43}$/);
  assert.equal(rest, []);
  assert.match(ok.err, /^created tenant cli-tenant \(Europe\/Berlin\) with admin key bwk_\S+ \(admin\), expires \S+; the key is shown once$/);
  assert.not.match(ok.err, key!, 'the note never repeats the key');
  const row = await superuserQuery(db.url, 'SELECT t.timezone, s.settings, h.last_seq FROM tenants t JOIN tenant_settings s ON s.tenant_id = t.id JOIN audit_chain_heads h ON h.tenant_id = t.id WHERE t.id = $1', [id]);
  assert.is(row.rows[0].last_seq, '2', 'the admin key and the tenant creation are audited');
  assert.is(row.rows[0].timezone, 'Europe/Berlin');
  assert.is(row.rows[0].settings.retention.securityDays, 365);
  const dup = await run(['tenant', 'create', '--name', 'cli-tenant']);
  assert.is(dup.code, 1);
  assert.match(dup.err, 'a tenant named "cli-tenant" already exists');
  const bad = await run(['tenant', 'create', '--name', '../etc', '--timezone', 'Mars/Olympus']);
  assert.is(bad.code, 2);
  assert.match(bad.err, /name: /);
  assert.match(bad.err, /timezone: must be an IANA time zone/);
});

test('invalid configuration exits 2 naming the variable, never its value', async () => {
  const r = await run(['audit', 'verify'], { DATABASE_URL: 'mysql://u:TopSecret99@h/x' });
  assert.is(r.code, 2);
  assert.match(r.err, 'DATABASE_URL');
  assert.not.match(r.err, 'TopSecret99');
});

test('audit verify exits 0 when intact and 1 naming tenant and seq when not', async () => {
  const tenant = await createCliTenant(run, 'verify-me');
  const good = await run(['audit', 'verify', '--tenant', tenant]);
  assert.is(good.code, 0);
  assert.match(good.out, 'chain intact');
  // An entry whose hash cannot be right.
  await superuserQuery(
    db.url,
    `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, action, resource_type, prev_hash, hash)
     SELECT $1, 3, 'e1', now(), now(), 'system', 'test:forged', 'test', last_hash, repeat('a', 64) FROM audit_chain_heads WHERE tenant_id = $1;
     `,
    [tenant],
  );
  await superuserQuery(db.url, `UPDATE audit_chain_heads SET last_seq = 3, last_hash = repeat('a', 64) WHERE tenant_id = $1`, [tenant]);
  const bad = await run(['audit', 'verify']);
  assert.is(bad.code, 1);
  assert.match(bad.out, `BROKEN  tenant ${tenant}: seq 3: content`);
});

test('audit verify on a terminal draws a progress bar over every chain\'s entries on stderr; in a pipe none', async () => {
  const tenant = await createCliTenant(run, 'verify-bar');
  const heads = (await superuserQuery(db.url, 'SELECT sum(last_seq)::int AS n FROM audit_chain_heads')).rows[0].n as number;
  assert.ok(heads >= 2, 'entries to walk');
  const tty = await runCli(['audit', 'verify', '--tenant', tenant], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' }, { isTTY: true });
  // The bootstrap wrote two entries (the admin key, the tenant): 0 of 2, then 2 of 2.
  assert.is(tty.progress, `\rverifying [${'.'.repeat(30)}] 0% (0/2)\rverifying [${'#'.repeat(30)}] 100% (2/2)\n`);
  assert.match(tty.out, `ok      tenant ${tenant}: 2 entries, chain intact`);
  const piped = await run(['audit', 'verify', '--tenant', tenant]);
  assert.is(piped.progress, '');
  assert.is(piped.out, tty.out);
});

test('audit verify names a tenant whose row was deleted past the foreign keys (tenant), with and without --tenant', async () => {
  const gone = await createCliTenant(run, 'verify-gone');
  await superuserQuery(db.url, `SET session_replication_role = replica; DELETE FROM tenants WHERE id = '${gone}'`);
  const line = `BROKEN  tenant ${gone}: seq 1: tenant: the tenant's row is missing from tenants (2 entries)`;
  const one = await run(['audit', 'verify', '--tenant', gone]);
  assert.equal([one.code, one.out, one.err], [1, `${line}\n1 of 1 chain(s) broken`, ''], 'a BROKEN line, not "no tenant with id"');
  const all = await run(['audit', 'verify']);
  assert.is(all.code, 1);
  assert.ok(all.out.split('\n').includes(line), all.out);
});

test('migrate creates a missing database, applies migrations, and a re-run is a no-op', async () => {
  const name = `bulwark_cli_${Date.now().toString(36)}`;
  // migrate also creates the object store's buckets (test/integration/storage/client.test.ts).
  const s3 = await startS3Server();
  try {
    const first = await run(['migrate'], { DATABASE_URL: urlFor(name), ...s3.env });
    assert.is(first.code, 0, first.err);
    assert.match(first.out, `created database ${name}`);
    assert.match(first.out, /applied 20261122000000_init/);
    const again = await run(['migrate'], { DATABASE_URL: urlFor(name), ...s3.env });
    assert.match(again.out, 'database is up to date');
  } finally {
    await s3.stop();
    await superuserQuery(ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
});

test('the installed bin runs the same CLI', () => {
  const r = runBin(['tenant', 'create', '--name', 'from-bin'], { DATABASE_URL: db.url });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout.split('\n')[0]!, /^[0-9a-f-]{36}$/);
});

test('start on a port already in use fails, names the problem and exits (nothing left open)', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const prefix = randomPrefix('start-fail');
  try {
    const port = String((taken.address() as AddressInfo).port);
    const { code, output } = await startUntilExit({ ...process.env, ...workerEnv(db.url, prefix, { PORT: port }) }, { ms: 30_000 });
    assert.is.not(code, 0, output);
    assert.match(output, 'EADDRINUSE');
  } finally {
    taken.close();
    await obliterateQueues(prefix);
  }
});

test.run();
