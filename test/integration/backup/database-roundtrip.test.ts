// A database backup and its restore on the real services: pg_dump streamed through age
// into part objects on s3rver, a signed manifest, list/verify, then a restore into a
// fresh database compared table by table, row for row (a checksum of every table);
// the restored audit_log still refuses UPDATE/DELETE/TRUNCATE; a non-empty target needs
// --force and gets a rollback backup first; live needs the name typed out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackup, listBackups, loadManifest, restoreBackup, verifyBackup } from '../../../lib/backup/index.js';
import { RestoreCheckError } from '../../../lib/backup/restore.js';
import { checkRestored } from '../../../lib/backup/restore-checks.js';
import { ConflictError, ValidationError } from '../../../lib/errors.js';
import { urlFor, superuserQuery } from '../../helpers/db.js';
import { addAuditEntries, startBackupHarness, tableChecksums, type BackupHarness } from '../../helpers/backup.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';
import { dropDatabase } from '../../../lib/backup/target.js';

let h: BackupHarness;
const scratch: string[] = [];
const scratchName = (label: string) => {
  const name = `bulwark_rs_${label}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  scratch.push(name);
  return name;
};

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 3, entries: 400 });
  }),
);
test.after(
  cleanup([
    ['drop scratch databases', () => Promise.all(scratch.map((n) => dropDatabase(urlFor(n))))],
    ['close harness', () => h?.close()],
  ]),
);

let backupId = '';

test('a database backup is split into encrypted parts with a signed manifest, and is listed as restorable', async () => {
  // Small parts so even a small dump spans several.
  const ctx = { ...h.ctx, config: { ...h.config, backupPartSizeBytes: 64 * 1024 } };
  const seen: number[] = [];
  const manifest = await createBackup(ctx, { kind: 'database', onProgress: (e) => seen.push(e.done) });
  backupId = manifest.id;
  assert.match(manifest.id, /^\d{8}T\d{6}Z$/);
  assert.ok(manifest.parts.length >= 2, `parts: ${manifest.parts.length}`);
  assert.ok(seen.length >= manifest.parts.length);
  const rows = (await superuserQuery(h.db.url, 'SELECT count(*)::int AS n FROM audit_log')).rows[0].n as number;
  assert.ok(rows >= 3 * 400);
  assert.is(manifest.tables.audit_log, rows);
  assert.is(manifest.auditChainHeads.length, 4); // and the system tenant's
  assert.is(manifest.environment, 'dev');
  assert.ok(manifest.migrations.length > 0);
  assert.match(manifest.encryption.recipient, /^age1/);
  // No key material anywhere in the manifest.
  const text = JSON.stringify(manifest);
  assert.not.match(text, 'AGE-SECRET-KEY');
  assert.not.match(text, h.env.BACKUP_SIGNING_KEY!);
  assert.not.match(text, h.env.S3_SECRET_KEY ?? 'S3RVER-secret-never');
  // The parts are ciphertext in the age format.
  const first = await h.ctx.storage.client.getObject(h.config.storage.backupBucket, manifest.parts[0]!.key);
  let head = '';
  for await (const c of first) {
    head += (c as Buffer).toString('latin1');
    if (head.length > 30) break;
  }
  first.destroy();
  assert.ok(head.startsWith('age-encryption.org/v1'), head.slice(0, 30));
  const listed = await listBackups(h.ctx);
  assert.equal(
    listed.filter((b) => b.status === 'restorable').map((b) => b.id),
    [manifest.id],
  );
});

test('verify downloads, checks and decrypts every part and reads the dump with pg_restore --list', async () => {
  const result = await verifyBackup(h.ctx, backupId);
  assert.ok(result.parts >= 2);
  assert.match(result.checks.join('\n'), 'pg_restore --list');
});

test('restore into a fresh database: every table row for row, chains verified, audit_log append-only', async () => {
  const before = await tableChecksums(h.db.url);
  // Writes after the backup are not in it.
  await addAuditEntries(h.db.url, h.tenants[0]!, 10);
  const target = scratchName('fresh');
  const result = await restoreBackup(h.ctx, backupId, { into: target });
  assert.is(result.rollbackBackupId, undefined);
  assert.match(result.checks.join('\n'), 'audit chains: 4 verified');
  assert.equal(await tableChecksums(urlFor(target)), before);
  for (const sql of ['UPDATE audit_log SET action = action', 'DELETE FROM audit_log', 'TRUNCATE audit_log']) {
    const err = await superuserQuery(urlFor(target), sql).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err, `${sql} was allowed on the restored audit_log`);
    assert.match(err!.message, 'append-only');
  }
});

test('the post-restore checks fail, each by name, on a restored database that differs from the manifest', async () => {
  const target = scratchName('tampered');
  await restoreBackup(h.ctx, backupId, { into: target });
  const manifest = await loadManifest(h.ctx, backupId);
  const clean = await checkRestored(urlFor(target), manifest);
  assert.equal(clean.failed, [], 'a faithful restore passes');
  // What a bad restore or a tampered database looks like: a trigger gone, a row more in a
  // table, and one entry's hash rewritten (as superuser, with the row triggers off).
  const tenant = h.tenants[1]!;
  await superuserQuery(
    urlFor(target),
    `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;
     ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete_statement;
     UPDATE audit_log SET action = 'task:tampered' WHERE tenant_id = '${tenant}' AND seq = 5;
     ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate;
     INSERT INTO legal_holds (id, tenant_id, scope, reason, created_by) VALUES (gen_random_uuid(), '${tenant}', 'all', 'slipped in', 'test')`,
  );
  const report = await checkRestored(urlFor(target), manifest);
  const failed = report.failed.join('\n');
  assert.match(failed, 'rows: table legal_holds has 1 rows, the manifest says 0');
  assert.match(
    failed,
    'audit_log is not append-only: trigger(s) audit_log_no_update_delete, audit_log_no_truncate, audit_log_no_update_delete_statement missing or disabled',
  );
  assert.match(failed, `audit chain of tenant ${tenant} broken at seq 5`);
  assert.not.match(report.passed.join('\n'), 'audit chains:');
  // Through restoreBackup the same differences fail the restore with RestoreCheckError.
  assert.ok(report.failed.length >= 3, failed);
  assert.is(
    new RestoreCheckError(backupId, target, report.failed).message.split('\n  - ').length,
    report.failed.length + 1,
  );
});

test('a non-empty target is refused without --force; with it a rollback backup is taken first', async () => {
  const target = scratchName('busy');
  await restoreBackup(h.ctx, backupId, { into: target });
  await addAuditEntries(urlFor(target), h.tenants[1]!, 5);
  const rowsThen = (await superuserQuery(urlFor(target), 'SELECT count(*)::int AS n FROM audit_log')).rows[0]
    .n as number;
  const refused = await restoreBackup(h.ctx, backupId, { into: target }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.instance(refused, ConflictError);
  assert.match(refused!.message, '--force');
  const forced = await restoreBackup(h.ctx, backupId, { into: target, force: true });
  assert.ok(forced.rollbackBackupId);
  const listed = await listBackups(h.ctx);
  const rollback = listed.find((b) => b.id === forced.rollbackBackupId);
  assert.is(rollback?.status, 'restorable');
  assert.match(rollback!.manifest!.reason ?? '', `before restoring ${backupId} into ${target}`);
  assert.is(rollback!.manifest!.tables.audit_log, rowsThen);
});

test('with BULWARK_ENV=live a restore needs the target name typed out', async () => {
  const live = h.withConfig({ BULWARK_ENV: 'live', S3_ACCESS_KEY: 'live-access', S3_SECRET_KEY: 'live-secret-key' });
  const target = scratchName('live');
  const err = await restoreBackup({ ...live, storage: h.ctx.storage }, backupId, { into: target }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.instance(err, ValidationError);
  assert.match(err!.message, `--confirm ${target}`);
});

test.run();
