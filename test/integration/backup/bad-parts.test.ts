// A backup's parts and manifest tampered with, one way at a time, on the real store:
// verify and restore refuse, naming the part (or the manifest), and a failed restore
// leaves no half-restored database. Keys: a wrong key refuses; a rotated list (new key
// first, old kept) still reads old backups and encrypts new ones to the new key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackup, listBackups, restoreBackup, verifyBackup, type Manifest } from '../../../lib/backup/index.js';
import { manifestKey } from '../../../lib/backup/layout.js';
import { NotFoundError, ValidationError } from '../../../lib/errors.js';
import { urlFor, superuserQuery } from '../../helpers/db.js';
import { newBackupKey, startBackupHarness, type BackupHarness } from '../../helpers/backup.js';
import { setup, cleanup } from '../../helpers/lifecycle.js';

let h: BackupHarness;
let m: Manifest;

test.before(setup(async () => {
  h = await startBackupHarness({ tenants: 2, entries: 300 });
  m = await createBackup({ ...h.ctx, config: { ...h.config, backupPartSizeBytes: 32 * 1024 } }, { kind: 'database' });
}));
test.after(cleanup([['close harness', () => h?.close()]]));

const bucket = () => h.config.storage.backupBucket;
async function read(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await h.ctx.storage.client.getObject(bucket(), key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const write = (key: string, body: Buffer) => h.ctx.storage.client.putObject(bucket(), key, body, body.length);
const refusal = (p: Promise<unknown>): Promise<Error> => p.then(() => { throw new Error('was accepted'); }, (e: Error) => e);
const flip = (b: Buffer, i: number, bit: number) => b.writeUInt8(b.readUInt8(i) ^ bit, i);

/** Tamper, check, put the original bytes back. */
async function tampered(keys: string[], change: (bodies: Buffer[]) => Promise<void>, check: () => Promise<void>) {
  const originals = await Promise.all(keys.map(read));
  try {
    await change(originals.map((b) => Buffer.from(b)));
    await check();
  } finally {
    for (const [i, k] of keys.entries()) await write(k, originals[i]!);
  }
}

test('the backup under test spans at least three parts and verifies', async () => {
  assert.ok(m.parts.length >= 3, `parts: ${m.parts.length}`);
  await verifyBackup(h.ctx, m.id);
});

test('a flipped byte in a part: refused, naming the part', async () => {
  const part = m.parts[1]!;
  await tampered([part.key], async ([b]) => {
    flip(b!, Math.floor(b!.length / 2), 0x01);
    await write(part.key, b!);
  }, async () => {
    const err = await refusal(verifyBackup(h.ctx, m.id));
    assert.match(err.message, part.key);
    assert.match(err.message, 'corrupted');
  });
});

test('a truncated part, a missing part, two parts swapped: each refused naming the part', async () => {
  const [p1, p2] = [m.parts[0]!, m.parts[1]!];
  await tampered([p1.key], async ([b]) => void (await write(p1.key, b!.subarray(0, b!.length - 100))), async () => {
    const err = await refusal(verifyBackup(h.ctx, m.id));
    assert.match(err.message, p1.key);
    assert.match(err.message, 'truncated');
  });
  await tampered([p2.key], async () => void (await h.ctx.storage.client.removeObject(bucket(), p2.key)), async () => {
    const err = await refusal(verifyBackup(h.ctx, m.id));
    assert.match(err.message, p2.key);
    assert.match(err.message, 'missing');
  });
  await tampered([p1.key, p2.key], async ([a, b]) => {
    await write(p1.key, b!);
    await write(p2.key, a!);
  }, async () => {
    const err = await refusal(verifyBackup(h.ctx, m.id));
    assert.match(err.message, p1.key);
  });
});

test('a restore from a corrupted part fails naming it and leaves no database behind', async () => {
  const part = m.parts.at(-1)!;
  const target = `bulwark_bad_${Date.now().toString(36)}`;
  await tampered([part.key], async ([b]) => {
    flip(b!, b!.length - 5, 0x80);
    await write(part.key, b!);
  }, async () => {
    const err = await refusal(restoreBackup(h.ctx, m.id, { into: target }));
    assert.match(err.message, part.key);
    const exists = await superuserQuery(urlFor('postgres'), 'SELECT 1 FROM pg_database WHERE datname = $1', [target]);
    assert.is(exists.rowCount, 0, 'the half-restored database was left behind');
  });
});

test('a tampered manifest: refused, and listed as invalid, never as restorable', async () => {
  const key = manifestKey(h.config.env, m.id);
  await tampered([key], async ([b]) => {
    const json = JSON.parse(b!.toString('utf8'));
    json.tables.audit_log += 1;
    await write(key, Buffer.from(JSON.stringify(json)));
  }, async () => {
    const err = await refusal(verifyBackup(h.ctx, m.id));
    assert.match(err.message, 'signature does not match');
    const listed = (await listBackups(h.ctx)).find((b) => b.id === m.id);
    assert.is(listed?.status, 'invalid');
  });
  await tampered([key], async () => void (await write(key, Buffer.from('{"format":'))), async () => {
    assert.match((await refusal(verifyBackup(h.ctx, m.id))).message, 'not valid JSON');
  });
});

test('a manifest signed with another key is refused naming the key id', async () => {
  const other = h.withConfig({ BACKUP_SIGNING_KEY: 'another-signing-key-that-is-long-enough-1234' });
  const err = await refusal(verifyBackup({ ...other, storage: h.ctx.storage }, m.id));
  assert.match(err.message, 'not in BACKUP_SIGNING_KEY');
});

test('a wrong key refuses naming the first part; a rotated list reads old backups and encrypts new ones to the new key', async () => {
  const newKey = await newBackupKey();
  const wrong = { ...h.withConfig({ BACKUP_KEYS: newKey }), storage: h.ctx.storage };
  const err = await refusal(verifyBackup(wrong, m.id));
  assert.match(err.message, m.parts[0]!.key);
  assert.match(err.message, 'does not decrypt');
  const rotated = { ...h.withConfig({ BACKUP_KEYS: `${newKey},${h.env.BACKUP_KEYS}` }), storage: h.ctx.storage };
  await verifyBackup(rotated, m.id);
  const fresh = await createBackup(rotated, { kind: 'database' });
  assert.is.not(fresh.encryption.recipient, m.encryption.recipient);
  // The old key alone no longer reads the new backup.
  assert.match((await refusal(verifyBackup(h.ctx, fresh.id))).message, 'does not decrypt');
});

test('an unknown id is not found; a malformed id is a validation error', async () => {
  assert.instance(await refusal(verifyBackup(h.ctx, '20000101T000000Z')), NotFoundError);
  assert.instance(await refusal(restoreBackup(h.ctx, '20000101T000000Z', { into: 'bulwark_never' })), NotFoundError);
  assert.instance(await refusal(verifyBackup(h.ctx, '../etc')), ValidationError);
});

test.run();
