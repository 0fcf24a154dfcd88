// Objects backups on the real services (s3rver, Postgres, Redis): every object under
// tenant/ copied into the backup with its SHA-256 in the encrypted, signed index
// (nothing outside tenant/), verified byte for byte, restored into another bucket and
// prefix byte for byte, and in place: identical objects left alone, a changed one
// refused without --force and overwritten with it after a rollback backup. Verify names
// a missing or altered copy and refuses a tampered manifest.
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackup, listBackups, restoreBackup, verifyBackup } from '../../../lib/backup/index.js';
import { manifestKey } from '../../../lib/backup/layout.js';
import { ObjectCheckError } from '../../../lib/backup/objects-index.js';
import { ManifestError } from '../../../lib/backup/manifest.js';
import { getBytes, putBytes } from '../../../lib/backup/store.js';
import { ConflictError } from '../../../lib/errors.js';
import { objectDigests, putTenantObjects, startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';

let h: BackupHarness;
let source = new Map<string, string>();
const otherBucket = `restored-${Math.random().toString(36).slice(2, 8)}`;

test.before(
  setup(async () => {
    h = await startBackupHarness({ tenants: 2, entries: 5 });
    for (const t of h.tenants) for (const [k, v] of await putTenantObjects(h.ctx, t, 23)) source.set(k, v);
    // Not a tenant object: never in an objects backup.
    const stray = Buffer.from('not under tenant/');
    await h.ctx.storage.client.putObject(h.ctx.storage.bucket, 'elsewhere/stray.txt', stray, stray.length);
  }),
);
test.after(cleanup([['close harness', () => h?.close()]]));

let id = '';
const require256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sourceDigests = async () => {
  const all = await objectDigests(h.ctx, h.ctx.storage.bucket, '');
  return new Map([...all].filter(([k]) => k.startsWith('tenant/')));
};

test('an objects backup copies every object under tenant/ and nothing else, index encrypted and signed', async () => {
  const m = await createBackup(h.ctx, { kind: 'objects', objectsPerPart: 10 });
  id = m.id;
  assert.is(m.kind, 'objects');
  assert.is(m.objects?.count, source.size);
  assert.is(m.objects?.source, `${h.ctx.storage.bucket}/tenant/`);
  const index = m.parts.filter((p) => p.stream === 'objects-index');
  assert.is(index.length, Math.ceil(source.size / 10));
  assert.equal(
    index.map((p) => p.index),
    index.map((_, i) => i + 1),
  );
  const copies = await objectDigests(h.ctx, h.ctx.storage.backupBucket, m.objects!.prefix);
  assert.equal(new Map([...copies].sort()), new Map([...source].sort()));
  assert.not.ok(
    [...copies.keys()].some((k) => k.includes('stray')),
    'an object outside tenant/ was copied',
  );
  // The index parts are age ciphertext: no key of an object in clear.
  const first = (await getBytes(h.ctx.storage, index[0]!.key))!;
  assert.ok(first.subarray(0, 21).toString() === 'age-encryption.org/v1');
  assert.not.match(first.toString('latin1'), 'tenant/');
  const listed = (await listBackups(h.ctx)).find((b) => b.id === id);
  assert.is(listed?.status, 'restorable');
  // The checkpoint is gone once the manifest is written.
  assert.is(await getBytes(h.ctx.storage, `${h.config.env}/${id}/objects-checkpoint.json`), undefined);
});

test('verify downloads every copy and compares it with its SHA-256', async () => {
  const r = await verifyBackup(h.ctx, id);
  assert.match(r.checks.join('\n'), `objects: ${source.size} object(s)`);
});

test('restore into another bucket under a prefix: every object byte for byte', async () => {
  const r = await restoreBackup(h.ctx, id, { objectsInto: `${otherBucket}/copy` });
  assert.is(r.target, `${otherBucket}/copy/`);
  assert.match(r.checks.join('\n'), `${source.size} restored`);
  const restored = await objectDigests(h.ctx, otherBucket, 'copy/');
  assert.equal(new Map([...restored].sort()), new Map([...source].sort()));
});

test('restore in place: identical objects are left alone; a changed one needs --force and a rollback backup', async () => {
  const same = await restoreBackup(h.ctx, id, {});
  assert.match(same.checks.join('\n'), `0 restored into ${h.ctx.storage.bucket}/, ${source.size} already identical`);
  const victim = [...source.keys()].find((k) => k.includes('/reports/'))!;
  const changed = Buffer.from('changed after the backup');
  await h.ctx.storage.client.putObject(h.ctx.storage.bucket, victim, changed, changed.length);
  const refused = await restoreBackup(h.ctx, id, {}).catch((e: Error) => e);
  assert.instance(refused, ConflictError);
  assert.match((refused as Error).message, victim);
  assert.equal((await sourceDigests()).get(victim), require256(changed), 'a refused restore wrote something');
  const forced = await restoreBackup(h.ctx, id, { force: true });
  assert.ok(forced.rollbackBackupId, 'no rollback point');
  assert.equal(new Map([...(await sourceDigests())].sort()), new Map([...source].sort()));
  // The rollback point holds the object as it was before the restore.
  const rollback = (await listBackups(h.ctx)).find((b) => b.id === forced.rollbackBackupId)!;
  assert.match(rollback.manifest!.reason!, `before restoring the objects of ${id}`);
  const held = await objectDigests(h.ctx, h.ctx.storage.backupBucket, rollback.manifest!.objects!.prefix);
  assert.is(held.get(victim), require256(changed));
});

test('verify names a missing copy and an altered copy; a tampered manifest is refused', async () => {
  const m = await createBackup(h.ctx, { kind: 'objects' });
  // Two objects with content (sizes cycle through 0, 1, 700, 70000 bytes).
  const [a, b] = [...source.keys()].sort().filter((k) => k.includes('/reports/'));
  const originalA = (await getBytes(h.ctx.storage, m.objects!.prefix + a!))!;
  const restoreA = () =>
    h.ctx.storage.client.putObject(h.ctx.storage.backupBucket, m.objects!.prefix + a!, originalA, originalA.length);
  await h.ctx.storage.client.removeObject(h.ctx.storage.backupBucket, m.objects!.prefix + a!);
  let err = await verifyBackup(h.ctx, m.id).catch((e: Error) => e);
  assert.instance(err, ObjectCheckError);
  assert.match((err as Error).message, `object ${a}: is missing`);
  await h.ctx.storage.client.putObject(h.ctx.storage.backupBucket, m.objects!.prefix + a!, Buffer.from('x'), 1);
  err = await verifyBackup(h.ctx, m.id).catch((e: Error) => e);
  assert.match((err as Error).message, `object ${a}: is 1 bytes`);
  // Same size, other bytes: only the SHA-256 tells.
  const copyOfB = (await getBytes(h.ctx.storage, m.objects!.prefix + b!, h.ctx.storage.backupBucket))!;
  await restoreA();
  const flipped = Buffer.from(copyOfB);
  if (flipped.length) flipped[0] = flipped[0]! ^ 1;
  await h.ctx.storage.client.putObject(h.ctx.storage.backupBucket, m.objects!.prefix + b!, flipped, flipped.length);
  if (flipped.length) {
    err = await verifyBackup(h.ctx, m.id).catch((e: Error) => e);
    assert.match((err as Error).message, `object ${b}: SHA-256 differs`);
  }
  // The manifest says one object fewer: its signature no longer matches.
  const key = manifestKey(h.config.env, m.id);
  const json = JSON.parse((await getBytes(h.ctx.storage, key))!.toString('utf8')) as { objects: { count: number } };
  json.objects.count -= 1;
  await putBytes(h.ctx.storage, key, Buffer.from(JSON.stringify(json)));
  err = await verifyBackup(h.ctx, m.id).catch((e: Error) => e);
  assert.instance(err, ManifestError);
  assert.match((err as Error).message, 'signature does not match');
});

test.run();
