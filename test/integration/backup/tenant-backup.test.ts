// Tenant backups on the real services: one tenant's rows of every tenant-scoped table
// as encrypted NDJSON and its objects, never another tenant's; verify; restore into a
// scratch database compared table by table, row for row, with the chain verified, and
// its objects into another bucket byte for byte; refusals (non-empty target, another
// tenant's id, unknown tenant, tampered manifest); the CLI's `create --tenant` and
// `restore --tenant`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { createBackup, restoreBackup, verifyBackup, loadManifest } from '../../../lib/backup/index.js';
import { backupKeys } from '../../../lib/backup/keys.js';
import { manifestKey } from '../../../lib/backup/layout.js';
import { ManifestError } from '../../../lib/backup/manifest.js';
import { readStream } from '../../../lib/backup/parts.js';
import { getBytes, putBytes } from '../../../lib/backup/store.js';
import { dropDatabase } from '../../../lib/backup/target.js';
import { GLOBAL_TABLES, tenantTables } from '../../../lib/backup/tenant-tables.js';
import { ConflictError, NotFoundError, ValidationError } from '../../../lib/errors.js';
import { objectDigests, putTenantObjects, startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { runCli } from '../../helpers/cli.js';
import { urlFor } from '../../helpers/db.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';
import { FILLED_TABLES, fillTenant, tenantChecksums } from '../../helpers/tenant-fixture.js';

let h: BackupHarness;
let a = '';
let b = '';
const objectsOf = new Map<string, Map<string, string>>();
const scratch: string[] = [];
const scratchName = (label: string) => {
  const name = `bulwark_tr_${label}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  scratch.push(name);
  return name;
};
const bucket2 = `tenant-rs-${Math.random().toString(36).slice(2, 8)}`;

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 2, entries: 120 });
    [a, b] = h.tenants as [string, string];
    for (const t of [a, b]) {
      await fillTenant(h.db.url, t);
      objectsOf.set(t, await putTenantObjects(h.ctx, t, 7));
    }
  }),
);
test.after(
  cleanup([
    ['drop scratch databases', () => Promise.all(scratch.map((n) => dropDatabase(urlFor(n))))],
    ['close harness', () => h?.close()],
  ]),
);

test('every table is either tenant-scoped or declared global', async () => {
  const c = new pg.Client({ connectionString: h.db.url });
  await c.connect();
  try {
    const { tables, others } = await tenantTables(c);
    const names = tables.map((t) => t.name);
    for (const t of [...FILLED_TABLES, 'tenants', 'tenant_settings', 'audit_log', 'audit_chain_heads'])
      assert.ok(names.includes(t), `${t} is not found to be tenant-scoped`);
    assert.equal(
      others.filter((t) => !GLOBAL_TABLES.includes(t)),
      [],
      'a table is neither tenant-scoped nor in GLOBAL_TABLES',
    );
    // Load order: a parent before its children.
    assert.ok(names.indexOf('tenants') < names.indexOf('secrets'));
    assert.ok(names.indexOf('secrets') < names.indexOf('secret_rotations'));
    assert.ok(names.indexOf('alert_ledger') < names.indexOf('alert_deliveries'));
  } finally {
    await c.end();
  }
});

let id = '';
let auditRows = 0;

test('a tenant backup holds its rows and objects, and nothing of another tenant', async () => {
  const m = await createBackup(h.ctx, { kind: 'tenant', tenantId: a, objectsPerPart: 3 });
  id = m.id;
  assert.is(m.kind, 'tenant');
  assert.is(m.tenantId, a);
  const expected = await tenantChecksums(h.db.url, a);
  for (const [t, sum] of Object.entries(expected)) assert.is(m.tables[t], Number(sum.split(':')[0]), t);
  for (const t of FILLED_TABLES) assert.ok(m.tables[t]! > 0, `no rows of ${t}`);
  assert.ok(m.tables.audit_log! >= 120); // and the entries creating the tenant wrote
  auditRows = m.tables.audit_log!;
  assert.is(m.auditChainHeads.length, 1);
  assert.is(m.auditChainHeads[0]!.tenantId, a);
  assert.is(m.objects?.count, objectsOf.get(a)!.size);
  assert.is(m.objects?.source, `${h.ctx.storage.bucket}/tenant/${a}/`);
  // Decrypted, no stream mentions the other tenant.
  const { identities } = await backupKeys(h.config);
  for (const stream of new Set(m.parts.map((p) => p.stream))) {
    let text = '';
    for await (const c of readStream(
      h.ctx.storage,
      m.parts.filter((p) => p.stream === stream),
      identities,
    ))
      text += c.toString('utf8');
    assert.not.match(text, b, `stream ${stream} holds the other tenant's id`);
  }
  const copies = await objectDigests(h.ctx, h.ctx.storage.backupBucket, m.objects!.prefix);
  assert.equal(new Map([...copies].sort()), new Map([...objectsOf.get(a)!].sort()));
  assert.not.ok(
    [...copies.keys()].some((k) => k.includes(b)),
    "another tenant's object was copied",
  );
});

test('verify checks every table stream against its row count and every object', async () => {
  const r = await verifyBackup(h.ctx, id);
  const text = r.checks.join('\n');
  assert.match(text, `audit_log: 1 part(s) checked, decrypted, ${auditRows} JSON line(s)`);
  assert.match(text, `objects: ${objectsOf.get(a)!.size} object(s)`);
});

test('restore into a scratch database: every table of the tenant row for row, chain verified, objects byte for byte', async () => {
  const into = scratchName('a');
  const r = await restoreBackup(h.ctx, id, { into, tenant: a, objectsInto: `${bucket2}/restored` });
  const text = r.checks.join('\n');
  assert.match(text, 'audit chain: verified entry by entry');
  assert.match(text, 'audit_log append-only triggers present');
  assert.equal(await tenantChecksums(urlFor(into), a), await tenantChecksums(h.db.url, a));
  // Only the tenant (and the fresh database's own system tenant) is there.
  const c = new pg.Client({ connectionString: urlFor(into) });
  await c.connect();
  try {
    const ids = (await c.query<{ id: string }>('SELECT id::text FROM tenants ORDER BY name')).rows.map((x) => x.id);
    assert.ok(ids.includes(a) && !ids.includes(b));
    // The restored database takes writes: sequences are past the loaded ids.
    const s = (await c.query<{ id: string }>('SELECT id FROM secrets WHERE tenant_id = $1', [a])).rows[0]!.id;
    await c.query(
      'INSERT INTO secret_rotations (secret_id, tenant_id, from_version, to_version) VALUES ($1, $2, 3, 4)',
      [s, a],
    );
    const upd = await c.query('UPDATE audit_log SET action = $1 WHERE tenant_id = $2', ['x', a]).catch((e: Error) => e);
    assert.instance(upd, Error, 'the restored audit_log accepted an UPDATE');
  } finally {
    await c.end();
  }
  const restored = await objectDigests(h.ctx, bucket2, 'restored/');
  assert.equal(new Map([...restored].sort()), new Map([...objectsOf.get(a)!].sort()));
});

test('refusals: non-empty target, the wrong tenant, an unknown tenant, a tampered manifest', async () => {
  const err1 = await restoreBackup(h.ctx, id, { into: h.db.name }).catch((e: Error) => e);
  assert.instance(err1, ConflictError);
  assert.match((err1 as Error).message, 'not empty');
  const err2 = await restoreBackup(h.ctx, id, { into: scratchName('b'), tenant: b }).catch((e: Error) => e);
  assert.instance(err2, ValidationError);
  const err3 = await createBackup(h.ctx, { kind: 'tenant', tenantId: '5b1e0000-0000-4000-8000-000000000000' }).catch(
    (e: Error) => e,
  );
  assert.instance(err3, NotFoundError);
  const m = await createBackup(h.ctx, { kind: 'tenant', tenantId: b });
  const key = manifestKey(h.config.env, m.id);
  const json = JSON.parse((await getBytes(h.ctx.storage, key))!.toString('utf8')) as { tenantId: string };
  json.tenantId = a;
  await putBytes(h.ctx.storage, key, Buffer.from(JSON.stringify(json)));
  const err4 = await loadManifest(h.ctx, m.id).catch((e: Error) => e);
  assert.instance(err4, ManifestError);
});

test('CLI: backup create --tenant ID, then restore --tenant ID --into a scratch database', async () => {
  const env = { ...h.env, LOG_LEVEL: 'warn' };
  const created = await runCli(['backup', 'create', '--tenant', a], env);
  assert.is(created.code, 0, created.err);
  const cliId = created.out.trim();
  assert.match(created.err, `backup ${cliId} (tenant) complete`);
  const list = await runCli(['backup', 'list'], env);
  assert.match(list.out, new RegExp(`^${cliId}\\ttenant\\trestorable\\t[0-9.]+ MB\\t${a}`, 'm'));
  const into = scratchName('cli');
  const r = await runCli(['backup', 'restore', cliId, '--tenant', a, '--into', into], env);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'audit chain: verified entry by entry');
  assert.match(r.out, 'not restored (--objects-into');
  assert.match(r.out, `restored into ${into}`);
  const bad = await runCli(['backup', 'restore', cliId, '--tenant', 'nope', '--into', into], env);
  assert.is(bad.code, 2);
});

test.run();
