// Audit checkpoints without any service: the keys (shapes, rotation list, config
// errors that never echo a key), the signed message byte for byte, the object and
// its checks (altered, another key, a forged key id, moved), the key layout, and
// which hours the schedule expects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import {
  checkpointKeys,
  decodeKey32,
  generateSigningKey,
  parseSigningKey,
  publicKeyPem,
} from '../../lib/checkpoints/keys.js';
import {
  checkSignature,
  checkpointKey,
  checkpointMessage,
  decodeCheckpoint,
  encodeCheckpoint,
  parseCheckpointKey,
  type CheckpointDocument,
} from '../../lib/checkpoints/format.js';
import { missingRuns, scheduledHours } from '../../lib/checkpoints/hours.js';

const T = '5b1e2f6a-0c4d-4e8f-9a1b-2c3d4e5f6a7b';
const FIELDS = {
  tenantId: T,
  hour: '2026-12-07T13',
  seq: '1234',
  hash: 'ab'.repeat(32),
  at: '2026-12-07T13:00:04.512Z',
};
const key = generateSigningKey();
const signer = parseSigningKey(key);
const doc = (body: Buffer): CheckpointDocument => {
  const d = decodeCheckpoint(body);
  if (!d.ok) throw new Error(d.problem);
  return d.doc;
};

test('keys: base64 and base64url spell the same key; other lengths and alphabets are refused', () => {
  const raw = randomBytes(32);
  assert.equal(decodeKey32(raw.toString('base64')), raw);
  assert.equal(decodeKey32(raw.toString('base64url')), raw);
  assert.equal(decodeKey32(raw.toString('base64').replace(/=$/, '')), raw);
  assert.is(decodeKey32(randomBytes(31).toString('base64')), undefined);
  assert.is(decodeKey32(randomBytes(33).toString('base64')), undefined);
  assert.is(decodeKey32(`${'!'.repeat(43)}=`), undefined);
  assert.is(parseSigningKey(key).publicKey.id, signer.publicKey.id, 'one key, one id');
  assert.match(signer.publicKey.id, /^[0-9a-f]{16}$/);
  assert.match(
    publicKeyPem(signer.publicKey),
    /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=]{60}\n-----END PUBLIC KEY-----\n$/,
  );
});

test('config: a bad AUDIT_CHECKPOINT_KEY or public key list is named, never echoed', () => {
  const bad = 'not-a-key-but-a-secret-looking-value';
  try {
    loadConfig({
      AUDIT_CHECKPOINT_KEY: bad,
      AUDIT_CHECKPOINT_PUBLIC_KEYS: `${signer.publicKey.raw.toString('base64')},x`,
    });
    assert.unreachable('loadConfig accepted a bad key');
  } catch (err) {
    assert.instance(err, ConfigError);
    const paths = (err as ConfigError).problems.map((p) => p.path).sort();
    assert.equal(paths, ['AUDIT_CHECKPOINT_KEY', 'AUDIT_CHECKPOINT_PUBLIC_KEYS']);
    assert.not.match((err as Error).message, bad);
  }
  const other = parseSigningKey(generateSigningKey());
  const c = loadConfig({
    AUDIT_CHECKPOINT_KEY: key,
    AUDIT_CHECKPOINT_PUBLIC_KEYS: `${other.publicKey.raw.toString('base64url')}, ${signer.publicKey.raw.toString('base64')}`,
  });
  const keys = checkpointKeys(c);
  assert.is(keys.signer?.publicKey.id, signer.publicKey.id);
  assert.equal(
    keys.verifiers.map((k) => k.id),
    [signer.publicKey.id, other.publicKey.id],
    'the signing key first, then earlier keys, each once',
  );
  assert.is(checkpointKeys(loadConfig({})).signer, undefined, 'no key: no checkpoints');
});

test('the signed message is exactly the documented text', () => {
  assert.is(
    checkpointMessage(FIELDS).toString('utf8'),
    `bulwark-audit-checkpoint v1\ntenant ${T}\nhour 2026-12-07T13\nseq 1234\nhash ${'ab'.repeat(32)}\nat 2026-12-07T13:00:04.512Z\n`,
  );
});

test('an encoded checkpoint decodes and verifies; Ed25519 makes it the same bytes every time', () => {
  const body = encodeCheckpoint(FIELDS, signer);
  assert.equal(body, encodeCheckpoint(FIELDS, signer));
  const d = doc(body);
  assert.equal(
    { tenant: d.tenant, hour: d.hour, seq: d.seq, hash: d.hash, at: d.at, keyId: d.keyId },
    { tenant: T, hour: FIELDS.hour, seq: '1234', hash: FIELDS.hash, at: FIELDS.at, keyId: signer.publicKey.id },
  );
  assert.is(checkSignature(d, [signer.publicKey]), 'ok');
});

test('altered fields fail the signature; another key is unknown; a forged key id fails', () => {
  const d = doc(encodeCheckpoint(FIELDS, signer));
  for (const change of [
    { seq: '1235' },
    { hash: 'cd'.repeat(32) },
    { at: '2026-12-07T13:00:04.513Z' },
    { tenant: randomTenant() },
  ])
    assert.is(checkSignature({ ...d, ...change }, [signer.publicKey]), 'bad-signature', JSON.stringify(change));
  const other = parseSigningKey(generateSigningKey());
  const foreign = doc(encodeCheckpoint(FIELDS, other));
  assert.is(checkSignature(foreign, [signer.publicKey]), 'unknown-key');
  assert.is(checkSignature({ ...foreign, keyId: signer.publicKey.id }, [signer.publicKey]), 'bad-signature');
  assert.is(checkSignature(foreign, [signer.publicKey, other.publicKey]), 'ok', 'a rotated-out key still verifies');
});

test('decode refuses what is not a checkpoint, naming the field', () => {
  const d = doc(encodeCheckpoint(FIELDS, signer));
  const bad = (o: unknown) => {
    const r = decodeCheckpoint(Buffer.from(JSON.stringify(o)));
    return r.ok ? 'accepted' : r.problem;
  };
  assert.is(decodeCheckpoint(Buffer.from('{')).ok, false);
  assert.match(bad({ ...d, seq: '01' }), /^seq: /);
  assert.match(bad({ ...d, hash: 'AB'.repeat(32) }), /^hash: /);
  assert.match(bad({ ...d, extra: 1 }), /unrecognized/i);
  assert.match(bad({ ...d, v: 2 }), /^v: /);
});

test('key layout: checkpoints/{tenant}/{day}/{hour}.json, read back; anything else is not a checkpoint key', () => {
  const k = checkpointKey(T, '2026-12-07T05');
  assert.is(k, `checkpoints/${T}/2026-12-07/05.json`);
  assert.equal(parseCheckpointKey(k), { tenantId: T, hour: '2026-12-07T05' });
  assert.is(parseCheckpointKey(`checkpoints/${T}/2026-12-07/24.json`), undefined);
  assert.is(parseCheckpointKey(`checkpoints/${T}/2026-02-30/01.json`), undefined);
  assert.is(parseCheckpointKey(`checkpoints/${T.toUpperCase()}/2026-12-07/01.json`), undefined);
  assert.is(parseCheckpointKey(`checkpoints/${T}/x/2026-12-07/01.json`), undefined);
  assert.throws(() => checkpointKey(T, '2026-12-07 05'));
  assert.throws(() => checkpointKey('../etc', '2026-12-07T05'));
});

test('hours: the schedule decides which hours need a checkpoint; missing ones come in runs', () => {
  const from = new Date('2026-12-07T10:00:00.000Z');
  const to = new Date('2026-12-07T13:00:00.000Z');
  assert.equal(scheduledHours('0 * * * *', from, to), [
    '2026-12-07T10',
    '2026-12-07T11',
    '2026-12-07T12',
    '2026-12-07T13',
  ]);
  assert.equal(scheduledHours('0 * * * *', new Date('2026-12-07T10:00:00.001Z'), to), [
    '2026-12-07T11',
    '2026-12-07T12',
    '2026-12-07T13',
  ]);
  assert.equal(scheduledHours('*/15 * * * *', from, new Date('2026-12-07T11:59:00.000Z')), [
    '2026-12-07T10',
    '2026-12-07T11',
  ]);
  assert.equal(
    scheduledHours('30 */6 * * *', new Date('2026-12-07T00:00:00.000Z'), new Date('2026-12-08T00:00:00.000Z')),
    ['2026-12-07T00', '2026-12-07T06', '2026-12-07T12', '2026-12-07T18'],
  );
  const expected = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
  assert.equal(missingRuns(expected, new Set(['h1', 'h4', 'h6'])), [
    { from: 'h2', to: 'h3', count: 2 },
    { from: 'h5', to: 'h5', count: 1 },
  ]);
  assert.equal(missingRuns(expected, new Set(expected)), []);
});

function randomTenant(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

test.run();
