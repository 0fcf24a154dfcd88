// The CLI's tenant handling against the real Postgres: an unknown --tenant is one clear
// not-found error (exit 1) on every command taking it, audit verify does not call an
// unknown tenant's chain broken, tenant list, and the one-time key output of tenant
// create and apikey create.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { generateFernetKey } from '../../../lib/crypto/fernet.js';
import { createCliTenant, runCli } from '../../helpers/cli.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
const MASTER_KEYS = `k1:${generateFernetKey()}`;

const run = (args: string[], stdin: NodeJS.ReadableStream = Readable.from([Buffer.from('s3cret-value')])) => runCli(args, { DATABASE_URL: db.url, MASTER_KEYS, LOG_LEVEL: 'warn' }, { stdin });

const rowCount = async (table: string) => Number((await superuserQuery(db.url, `SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

test.before(async () => {
  db = await createTestDatabase();
});
test.after(async () => {
  await db.drop();
});

test('an unknown --tenant is "no tenant with id …" and exit 1 on every command taking it; nothing is written', async () => {
  const ghost = randomUUID();
  // A real tenant with a secret, so channel add and the rest get past their own checks.
  const real = await createCliTenant(run, 'real');
  assert.is((await run(['secret', 'set', '--tenant', real, '--name', 'hook'])).code, 0);
  const before = await Promise.all(['api_keys', 'secrets', 'alert_channels', 'audit_log'].map(rowCount));
  const commands: string[][] = [
    ['apikey', 'create', '--name', 'k', '--scopes', 'admin'],
    ['apikey', 'list'],
    ['apikey', 'revoke', '--key', 'bwk_abcdefgh'],
    ['apikey', 'rotate', '--key', 'bwk_abcdefgh'],
    ['secret', 'set', '--name', 'hook'],
    ['secret', 'rotate', '--name', 'hook'],
    ['secret', 'list'],
    ['secret', 'history', '--name', 'hook'],
    ['channel', 'add', '--name', 'c', '--type', 'webhook', '--target', 'https://example.com/hook', '--secret', 'secret://hook'],
    ['channel', 'list'],
    ['channel', 'remove', '--name', 'c'],
    ['alerts', 'log'],
    ['tenant', 'settings', 'get'],
    ['tenant', 'settings', 'set', 'api.requestsPerWindow=100'],
  ];
  for (const args of commands) {
    // A stdin that records being read: the secret is not asked for when the tenant is unknown.
    let stdinRead = false;
    const stdin = new Readable({ read() { stdinRead = true; this.push(null); } });
    const r = await run([...args, '--tenant', ghost], stdin);
    const what = args.join(' ');
    assert.is(r.code, 1, `${what}: ${r.err}`);
    assert.is(r.err, `bulwark: no tenant with id ${ghost} (--tenant)`, what);
    assert.is(r.out, '', what);
    assert.not.ok(stdinRead, `${what} did not read stdin`);
  }
  assert.equal(await Promise.all(['api_keys', 'secrets', 'alert_channels', 'audit_log'].map(rowCount)), before);
  // The same commands still work for a tenant that exists.
  assert.is((await run(['apikey', 'list', '--tenant', real])).code, 0);
  assert.is((await run(['tenant', 'settings', 'get', '--tenant', real])).code, 0);
});

test('secret set with a bad name, and secret rotate of a secret that does not exist, fail before the value is read', async () => {
  const tenant = await createCliTenant(run, 'names');
  for (const [args, code, message] of [
    [['secret', 'set', '--tenant', tenant, '--name', 'bad name!'], 2, 'secret name "bad name!" must be'],
    [['secret', 'rotate', '--tenant', tenant, '--name', 'never-set'], 1, 'no secret "never-set"'],
  ] as const) {
    let stdinRead = false;
    const stdin = new Readable({ read() { stdinRead = true; this.push(null); } });
    const r = await run([...args], stdin);
    assert.is(r.code, code, r.err);
    assert.match(r.err, message);
    assert.not.ok(stdinRead, `${args.join(' ')} did not read stdin`);
  }
});

test('audit verify --tenant <unknown> says there is no such tenant, never BROKEN', async () => {
  const ghost = randomUUID();
  const r = await run(['audit', 'verify', '--tenant', ghost]);
  assert.is(r.code, 1);
  assert.is(r.err, `bulwark: no tenant with id ${ghost} (--tenant)`);
  assert.is(r.out, '', 'no chain line, so nothing reads as tampering');
  const all = await run(['audit', 'verify']);
  assert.is(all.code, 0, all.out);
  assert.match(all.out, 'chain(s) intact');
});

test('tenant list prints every tenant by name with id, zone and creation time, then a count', async () => {
  const zulu = await createCliTenant(run, 'zulu', '--timezone', 'Asia/Tokyo');
  const alpha = await createCliTenant(run, 'alpha');
  const r = await run(['tenant', 'list']);
  assert.is(r.code, 0, r.err);
  const lines = r.out.split('\n');
  assert.is(lines.at(-1), `${lines.length - 1} tenant(s)`);
  const rows = lines.slice(0, -1).map((l) => l.split('\t'));
  const names = rows.map((c) => c[1]);
  const folded = (s: string | undefined) => (s ?? '').toLowerCase();
  assert.equal(names, [...names].sort((x, y) => (folded(x) < folded(y) ? -1 : 1)), 'ordered by name, case aside (tenant-list-order.test.ts checks the rule)');
  const a = rows.find((c) => c[0] === alpha)!;
  assert.equal(a.slice(1, 3), ['alpha', 'UTC']);
  assert.match(a[3]!, /^created \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(rows.find((c) => c[0] === zulu)!.slice(1, 3), ['zulu', 'Asia/Tokyo']);
  assert.not.match(r.out, 'bwk_', 'no key material');
  const extra = await run(['tenant', 'list', '--tenant', alpha]);
  assert.is(extra.code, 2, 'tenant list takes no flags');
});

test('tenant create and apikey create print keys the same way: bare on stdout, the note on stderr', async () => {
  const t = await run(['tenant', 'create', '--name', 'same-format']);
  assert.is(t.code, 0, t.err);
  const [id, adminKey] = t.out.split('\n');
  const k = await run(['apikey', 'create', '--tenant', id!, '--name', 'ingest', '--scopes', 'audit:write']);
  assert.is(k.code, 0, k.err);
  for (const [key, note] of [[adminKey!, t.err], [k.out, k.err]] as const) {
    assert.match(key, /^bwk_[A-Za-z0-9_-]{43}$/);
    assert.match(note, /; the key is shown once$/);
    assert.match(note, key.slice(0, 12), 'the note names the key by its prefix');
    assert.not.match(note, key);
  }
});

test('the README recipe captures the tenant id and admin key with read, from the real bin', () => {
  const script = `set -euo pipefail
{ read -r TENANT_ID; read -r ADMIN_KEY; } < <(node bin/bulwark.js tenant create --name scripted 2>/dev/null)
KEY=$(node bin/bulwark.js apikey create --tenant "$TENANT_ID" --name ingest --scopes audit:write 2>/dev/null)
echo "$TENANT_ID|$ADMIN_KEY|$KEY"`;
  const r = spawnSync('bash', ['-c', script], { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^[0-9a-f-]{36}\|bwk_[A-Za-z0-9_-]{43}\|bwk_[A-Za-z0-9_-]{43}$/);
});

test.run();
