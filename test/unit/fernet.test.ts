import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { Fernet, InvalidToken, MultiFernet, generateFernetKey } from '../../lib/crypto/fernet.js';
import { decryptWithKeyId, parseMasterKeys } from '../../lib/crypto/master-keys.js';

// Vectors from https://github.com/fernet/spec (generate.json, verify.json, invalid.json), copied verbatim.
const SPEC_SECRET = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const GENERATE = [
  {
    token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
    now: '1985-10-26T01:20:00-07:00',
    iv: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    src: 'hello',
    secret: SPEC_SECRET,
  },
];
const VERIFY = [
  {
    token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
    src: 'hello',
    secret: SPEC_SECRET,
  },
];
const INVALID = [
  {
    desc: 'incorrect mac',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'too short',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'invalid base64',
    token: '%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'payload size not multiple of block size',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'payload padding error',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'far-future TS (unacceptable clock skew)',
    token: 'gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'expired TTL',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==',
    now: '1985-10-26T01:21:31-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'incorrect IV (causes padding error)',
    token: 'gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'trailing characters after b64 padding',
    token:
      'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==trailingdata',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'invalid characters in b64',
    token: '*gAAAAAAdwJ6wAAECAwQFBgcI!CQoLDA0ODy021?cpGVWKZ_eEwC@GM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
  {
    desc: 'invalid non-urlsafe characters in b64',
    token: 'gAAAAAAdwJ6wAAEC/AwQFBgcICQoLDA0ODy+021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
    now: '1985-10-26T01:20:01-07:00',
    ttl_sec: 60,
  },
];

const SPEC_TOKEN = GENERATE[0]!.token;
const PLAINTEXT = 'the-plaintext-must-never-leak-7f3a';

function rejects(fn: () => unknown, what: string): InvalidToken {
  try {
    fn();
  } catch (err) {
    assert.instance(err, InvalidToken, `${what}: expected InvalidToken, got ${String(err)}`);
    return err as InvalidToken;
  }
  assert.unreachable(`${what}: expected InvalidToken, but it decrypted`);
  throw new Error('unreachable');
}

function keyError(key: unknown): Error {
  try {
    new Fernet(key as string);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`key ${JSON.stringify(String(key).length)} chars was accepted`);
}

/** A correctly signed token with arbitrary raw parts, to reach the checks after the HMAC. */
function signedToken(key: string, body: Buffer): string {
  const signing = Buffer.from(key, 'base64url').subarray(0, 16);
  const mac = createHmac('sha256', signing).update(body).digest();
  return b64(Buffer.concat([body, mac]));
}

/** URL-safe base64 with padding. */
function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

test('spec generate.json: byte-identical token from key, time and IV', () => {
  for (const v of GENERATE) {
    assert.is(new Fernet(v.secret).encrypt(v.src, new Date(v.now), Buffer.from(v.iv)), v.token);
    assert.is(new Fernet(v.secret).encrypt(Buffer.from(v.src), new Date(v.now), Buffer.from(v.iv)), v.token);
  }
});

test('spec verify.json: decrypts within the ttl', () => {
  for (const v of VERIFY) {
    assert.is(
      new Fernet(v.secret).decrypt(v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) }).toString('utf8'),
      v.src,
    );
    assert.is(new Fernet(v.secret).decrypt(v.token).toString('utf8'), v.src, 'no ttl: no time check at all');
  }
});

test('spec invalid.json: every case is an InvalidToken whose message holds no key or token', () => {
  const f = new Fernet(SPEC_SECRET);
  for (const v of INVALID) {
    const err = rejects(() => f.decrypt(v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) }), v.desc);
    assert.not.ok(err.message.includes(SPEC_SECRET), v.desc);
    assert.not.ok(err.message.includes(v.token.slice(0, 20)), v.desc);
    // MultiFernet refuses them too.
    rejects(
      () =>
        new MultiFernet([new Fernet(generateFernetKey()), f]).decrypt(v.token, {
          ttlSeconds: v.ttl_sec,
          now: new Date(v.now),
        }),
      `multi ${v.desc}`,
    );
  }
});

test('time checks apply only with a ttl, as in cryptography.fernet', () => {
  const f = new Fernet(SPEC_SECRET);
  const farFuture = INVALID.find((v) => v.desc.startsWith('far-future'))!.token;
  const expired = INVALID.find((v) => v.desc === 'expired TTL')!.token;
  assert.is(f.decrypt(farFuture).length, 0, 'without a ttl a future timestamp is not checked (Python agrees)');
  assert.is(f.decrypt(expired).length, 0);
});

test('ttl boundaries: exactly ttl old is fine, one second more is expired; 60 s of clock skew is allowed', () => {
  const f = new Fernet(generateFernetKey());
  const t0 = new Date('2024-02-29T12:00:00Z');
  const token = f.encrypt(PLAINTEXT, t0);
  const at = (s: number) => new Date(t0.getTime() + s * 1000);
  assert.is(f.decrypt(token, { ttlSeconds: 30, now: at(30) }).toString(), PLAINTEXT);
  assert.match(rejects(() => f.decrypt(token, { ttlSeconds: 30, now: at(31) }), 'expired').message, /expired/);
  assert.is(f.decrypt(token, { ttlSeconds: 30, now: at(-60) }).toString(), PLAINTEXT);
  assert.match(rejects(() => f.decrypt(token, { ttlSeconds: 30, now: at(-61) }), 'future').message, /future/);
  assert.is(f.decrypt(token, { ttlSeconds: 0, now: at(0.999) }).toString(), PLAINTEXT, 'timestamps are whole seconds');
  assert.throws(() => f.decrypt(token, { ttlSeconds: -1 }), /non-negative integer/);
  assert.throws(() => f.decrypt(token, { ttlSeconds: 1.5 }), /non-negative integer/);
  assert.is(f.extractTimestamp(token).getTime(), t0.getTime());
  rejects(() => new Fernet(generateFernetKey()).extractTimestamp(token), 'extractTimestamp checks the signature');
});

test('round trips: empty, block boundaries, unicode and binary', () => {
  const f = new Fernet(generateFernetKey());
  for (let n = 0; n <= 49; n++) {
    const data = Buffer.alloc(n, n);
    const token = f.encrypt(data);
    assert.equal(f.decrypt(token), data);
    const raw = Buffer.from(token, 'base64url');
    assert.is(raw.length, 57 + 16 * (Math.floor(n / 16) + 1), `length for ${n} bytes`);
    assert.is(token.length % 4, 0, 'padded');
    assert.ok(/^[A-Za-z0-9_-]+=*$/.test(token), 'url-safe alphabet');
  }
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.equal(f.decrypt(f.encrypt(binary)), binary);
  const unicode = 'pässwörd 🔑 秘密';
  assert.is(f.decrypt(f.encrypt(unicode)).toString('utf8'), unicode);
});

test('token layout: version 0x80, big-endian seconds, random IV, starts gAAAAA', () => {
  const f = new Fernet(generateFernetKey());
  const now = new Date('2031-05-06T07:08:09.987Z');
  const a = f.encrypt(PLAINTEXT, now);
  const b = f.encrypt(PLAINTEXT, now);
  assert.ok(a.startsWith('gAAAAA'));
  assert.is.not(a, b, 'a fresh IV each time');
  const raw = Buffer.from(a, 'base64url');
  assert.is(raw[0], 0x80);
  assert.is(raw.readBigUInt64BE(1), BigInt(Math.floor(now.getTime() / 1000)));
  assert.throws(() => f.encrypt(PLAINTEXT, now, Buffer.alloc(15)), /IV must be 16 bytes/);
  assert.throws(() => f.encrypt(PLAINTEXT, new Date(Number.NaN)), /valid date/);
});

test('tampering with any byte, a wrong key, a wrong version or wrong padding is refused', () => {
  const key = generateFernetKey();
  const f = new Fernet(key);
  const token = f.encrypt(PLAINTEXT);
  const raw = Buffer.from(token, 'base64url');
  for (let i = 0; i < raw.length; i++) {
    const bad = Buffer.from(raw);
    bad[i]! ^= 0x01;
    rejects(() => f.decrypt(b64(bad)), `byte ${i}`);
  }
  rejects(() => new Fernet(generateFernetKey()).decrypt(token), 'wrong key');
  // Correctly signed, but version 0x81: refused for the version, not the signature.
  const v81 = Buffer.from(raw.subarray(0, raw.length - 32));
  v81[0] = 0x81;
  assert.match(rejects(() => f.decrypt(signedToken(key, v81)), 'version').message, /version/);
  // Correctly signed, valid version, but the ciphertext does not unpad.
  const garbage = Buffer.concat([raw.subarray(0, 25), Buffer.alloc(16, 0xaa)]);
  assert.match(rejects(() => f.decrypt(signedToken(key, garbage)), 'padding').message, /padding/);
  // Correctly signed, but no ciphertext at all.
  rejects(() => f.decrypt(signedToken(key, raw.subarray(0, 25))), 'no ciphertext');
});

test('malformed encodings are refused: no padding, whitespace, standard alphabet, empty, not a string', () => {
  const f = new Fernet(SPEC_SECRET);
  rejects(() => f.decrypt(SPEC_TOKEN.replace(/=+$/, '')), 'unpadded');
  rejects(() => f.decrypt(`${SPEC_TOKEN}\n`), 'trailing newline');
  rejects(() => f.decrypt(` ${SPEC_TOKEN}`), 'leading space');
  rejects(() => f.decrypt(`${SPEC_TOKEN}=`), 'extra padding');
  rejects(() => f.decrypt(SPEC_TOKEN.replace(/-/g, '+').replace(/_/g, '/')), 'standard base64 alphabet');
  rejects(() => f.decrypt(''), 'empty');
  rejects(() => f.decrypt('gA=='), 'version byte only');
  rejects(() => f.decrypt(undefined as unknown as string), 'undefined');
  rejects(() => f.decrypt(Buffer.from(SPEC_TOKEN) as unknown as string), 'a Buffer');
});

test('error messages never contain plaintext, token or key', () => {
  const key = generateFernetKey();
  const f = new Fernet(key);
  const token = f.encrypt(PLAINTEXT, new Date('2020-01-01T00:00:00Z'));
  const messages = [
    rejects(() => f.decrypt(token, { ttlSeconds: 1 }), 'expired').message,
    rejects(() => new Fernet(generateFernetKey()).decrypt(token), 'wrong key').message,
    rejects(() => new MultiFernet([new Fernet(generateFernetKey())]).decrypt(token), 'multi').message,
    rejects(() => new MultiFernet([new Fernet(generateFernetKey())]).rotate(token), 'rotate').message,
    rejects(() => f.decrypt(`${token}x`), 'malformed').message,
  ];
  for (const m of messages) {
    for (const secret of [PLAINTEXT, key, key.slice(0, 22), key.slice(22), token.slice(10, 40)])
      assert.not.ok(m.includes(secret), `"${m}"`);
  }
  assert.is(new InvalidToken('x').name, 'InvalidToken');
});

test('key validation: exactly 32 bytes of padded url-safe base64, and the key is never echoed', () => {
  const good = generateFernetKey();
  assert.is(good.length, 44);
  assert.ok(good.endsWith('='));
  assert.is(Buffer.from(good, 'base64url').length, 32);
  assert.is.not(generateFernetKey(), good);
  const bytes = (n: number) => b64(Buffer.alloc(n, 0xfb));
  const cases: Array<[unknown, RegExp]> = [
    [bytes(16), /decodes to 16 bytes/],
    [bytes(31), /decodes to 31 bytes/],
    [bytes(33), /decodes to 33 bytes/],
    [bytes(64), /decodes to 64 bytes/],
    ['', /decodes to 0 bytes/],
    [good.slice(0, 43), /padding/],
    [good.replace(/-/g, '+').replace(/_/g, '/').replace(/^./, '+'), /url-safe base64/],
    [`${good} `, /url-safe base64/],
    [`${good.slice(0, 20)}!${good.slice(21)}`, /url-safe base64/],
    ['c2VjcmV0LWJ1dC10b28tc2hvcnQ', /url-safe base64/],
    [undefined, /url-safe base64/],
    [Buffer.from(good), /url-safe base64/],
  ];
  for (const [key, expected] of cases) {
    const err = keyError(key);
    assert.match(err.message, expected);
    assert.match(err.message, /32 bytes/);
    if (typeof key === 'string' && key.length > 4) {
      assert.not.ok(err.message.includes(key.trim()), 'the key is not echoed');
      assert.not.ok(err.message.includes(key.slice(0, 12)), 'no part of the key is echoed');
    }
  }
  assert.ok(new Fernet(good));
  assert.ok(new Fernet(SPEC_SECRET));
});

test('MultiFernet: first key encrypts, every key decrypts, ttl passes through', () => {
  const [k1, k2, k3] = [generateFernetKey(), generateFernetKey(), generateFernetKey()];
  const f1 = new Fernet(k1);
  const f2 = new Fernet(k2);
  const multi = new MultiFernet([f1, f2]);
  const token = multi.encrypt(PLAINTEXT);
  assert.is(f1.decrypt(token).toString(), PLAINTEXT, 'encrypted under the first key');
  rejects(() => f2.decrypt(token), 'not under the second');
  assert.is(multi.decrypt(f2.encrypt('old')).toString(), 'old', 'an old key still decrypts');
  rejects(() => multi.decrypt(new Fernet(k3).encrypt('x')), 'unknown key');
  const old = f2.encrypt('x', new Date('2020-01-01T00:00:00Z'));
  rejects(() => multi.decrypt(old, { ttlSeconds: 60 }), 'ttl through MultiFernet');
  assert.is(multi.decrypt(old, { ttlSeconds: 60, now: new Date('2020-01-01T00:01:00Z') }).toString(), 'x');
  assert.throws(() => new MultiFernet([]), /at least one key/);
  assert.throws(
    () => multi.decrypt(token, { ttlSeconds: -5 }),
    (e: unknown) => !(e instanceof InvalidToken),
    'argument errors are not swallowed',
  );
});

test('MultiFernet.rotate: re-encrypts under the first key, keeps the original timestamp, ignores ttl, fresh IV', () => {
  const [kNew, kOld] = [generateFernetKey(), generateFernetKey()];
  const fNew = new Fernet(kNew);
  const fOld = new Fernet(kOld);
  const multi = new MultiFernet([fNew, fOld]);
  const created = new Date('2019-03-04T05:06:07Z');
  const oldToken = fOld.encrypt(PLAINTEXT, created);
  const rotated = multi.rotate(oldToken);
  assert.is(fNew.decrypt(rotated).toString(), PLAINTEXT);
  rejects(() => fOld.decrypt(rotated), 'no longer under the old key');
  assert.is(fNew.extractTimestamp(rotated).getTime(), created.getTime(), 'original timestamp kept');
  assert.is.not(rotated.slice(0, 34), oldToken.slice(0, 34), 'new IV');
  // A token already under the first key is re-encrypted too (new IV, same timestamp).
  const again = multi.rotate(rotated);
  assert.is.not(again, rotated);
  assert.is(fNew.extractTimestamp(again).getTime(), created.getTime());
  // Far-future and very old tokens rotate: no ttl or clock-skew check, as in Python.
  const future = new Date(Date.now() + 86_400_000);
  assert.is(
    fNew.extractTimestamp(multi.rotate(fOld.encrypt('f', future))).getTime(),
    Math.floor(future.getTime() / 1000) * 1000,
  );
  const specRotated = new MultiFernet([fNew, new Fernet(SPEC_SECRET)]).rotate(SPEC_TOKEN);
  assert.is(fNew.decrypt(specRotated).toString(), 'hello');
  assert.is(
    Buffer.from(specRotated, 'base64url').readBigUInt64BE(1),
    Buffer.from(SPEC_TOKEN, 'base64url').readBigUInt64BE(1),
  );
  // Tokens that no key opens, or that are malformed, are refused.
  rejects(() => multi.rotate(new Fernet(generateFernetKey()).encrypt('x')), 'unknown key');
  for (const v of INVALID.filter((v) => !/TTL|far-future/.test(v.desc)))
    rejects(() => new MultiFernet([new Fernet(SPEC_SECRET)]).rotate(v.token), `rotate ${v.desc}`);
});

test('parseMasterKeys: ordered, first is current, all decrypt', () => {
  const [a, b, c] = [generateFernetKey(), generateFernetKey(), generateFernetKey()];
  const keys = parseMasterKeys(` k2026:${a} , k-2025_b:${b},old:${c}`);
  assert.is(keys.current.id, 'k2026');
  assert.equal([...keys.all.keys()], ['k2026', 'k-2025_b', 'old']);
  const token = keys.current.fernet.encrypt(PLAINTEXT);
  assert.is(new Fernet(a).decrypt(token).toString(), PLAINTEXT);
  assert.is(keys.multi.decrypt(new Fernet(c).encrypt('c')).toString(), 'c');
  assert.is(new Fernet(a).decrypt(keys.multi.encrypt('m')).toString(), 'm');
  assert.is(parseMasterKeys(`${'x'.repeat(32)}:${a}`).current.id, 'x'.repeat(32));
});

test('parseMasterKeys errors name the entry and the problem, never the key text', () => {
  const good = generateFernetKey();
  const bad = 'c2VjcmV0LWJ1dC10b28tc2hvcnQ';
  const cases: Array<[string, RegExp]> = [
    ['', /at least one key/],
    ['   ', /at least one key/],
    [`k1:${good},k1:${generateFernetKey()}`, /^MASTER_KEYS entry 2 \(id k1\): the id is used by an earlier entry$/],
    [`k1:${good},k2:${bad}`, /^MASTER_KEYS entry 2 \(id k2\): key must be 32 bytes of base64url/],
    [`k1:${good.slice(0, 43)}`, /^MASTER_KEYS entry 1 \(id k1\): key must be 32 bytes of base64url/],
    [`k1:`, /^MASTER_KEYS entry 1 \(id k1\): key must be 32 bytes/],
    [good, /^MASTER_KEYS entry 1: must be id:base64urlkey \(no ":" found\)$/],
    [`k1:${good},,k2:${good}`, /^MASTER_KEYS entry 2 is empty/],
    [`k1:${good},`, /^MASTER_KEYS entry 2 is empty/],
    [`:${good}`, /^MASTER_KEYS entry 1: the key id must be 1-32 letters/],
    [`${'x'.repeat(33)}:${good}`, /^MASTER_KEYS entry 1: the key id must be 1-32 letters/],
    [`k 1:${good}`, /^MASTER_KEYS entry 1: the key id must be 1-32 letters/],
    [`k1:${good}:${good}`, /^MASTER_KEYS entry 1 \(id k1\): key must be 32 bytes/],
  ];
  for (const [value, expected] of cases) {
    let message = '';
    try {
      parseMasterKeys(value);
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, expected, `for ${value.length} chars`);
    for (const secret of [good, good.slice(0, 16), good.slice(-16), bad])
      assert.not.ok(message.includes(secret), `"${message}" echoes key text`);
  }
});

test('decryptWithKeyId: the named key first, then every key; the error names the id only', () => {
  const [a, b] = [generateFernetKey(), generateFernetKey()];
  const keys = parseMasterKeys(`new:${a},old:${b}`);
  const underOld = new Fernet(b).encrypt(PLAINTEXT);
  assert.is(decryptWithKeyId(keys, underOld, 'old').toString(), PLAINTEXT);
  assert.is(decryptWithKeyId(keys, underOld, 'new').toString(), PLAINTEXT, 'a stale key id falls back to every key');
  assert.is(
    decryptWithKeyId(keys, underOld, 'gone').toString(),
    PLAINTEXT,
    'an unknown key id falls back to every key',
  );
  assert.is(decryptWithKeyId(keys, underOld).toString(), PLAINTEXT);
  const lost = new Fernet(generateFernetKey()).encrypt(PLAINTEXT);
  const err = rejects(() => decryptWithKeyId(keys, lost, 'k0'), 'lost key');
  assert.match(err.message, /does not decrypt under any configured master key \(stored under key id k0\)/);
  for (const secret of [PLAINTEXT, a, b, lost.slice(0, 30)]) assert.not.ok(err.message.includes(secret));
});

test.run();
