/**
 * Interoperability with Python's `cryptography.fernet`, the reference the secrets store
 * promises: a Python service holding the same key reads our tokens and we read its.
 * Runs against every python3 on the machine that has `cryptography` (the pyenv one
 * and Debian's /usr/bin/python3 here); fails, never skips, when there is none.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { Fernet, MultiFernet, generateFernetKey } from '../../../lib/crypto/fernet.js';

/** Reads one JSON request on stdin, writes one JSON answer; bytes travel as base64. */
const PY = String.raw`
import base64, json, sys
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
req = json.load(sys.stdin)
op = req["op"]
b = lambda s: base64.b64decode(s)
e = lambda x: base64.b64encode(x).decode()
out = {}
if op == "decrypt":
    out["plain"] = e(Fernet(req["key"]).decrypt(req["token"]))
    out["ts"] = Fernet(req["key"]).extract_timestamp(req["token"])
elif op == "encrypt":
    out["token"] = Fernet(req["key"]).encrypt(b(req["plain"])).decode()
elif op == "encrypt_from_parts":
    out["token"] = Fernet(req["key"])._encrypt_from_parts(b(req["plain"]), req["ts"], b(req["iv"])).decode()
elif op == "multi_decrypt":
    m = MultiFernet([Fernet(k) for k in req["keys"]])
    out["plain"] = e(m.decrypt(req["token"]))
elif op == "multi_rotate":
    out["token"] = MultiFernet([Fernet(k) for k in req["keys"]]).rotate(req["token"]).decode()
elif op == "rejects":
    try:
        Fernet(req["key"]).decrypt(req["token"])
        out["rejected"] = False
    except InvalidToken:
        out["rejected"] = True
elif op == "generate_key":
    out["key"] = Fernet.generate_key().decode()
json.dump(out, sys.stdout)
`;

function hasCryptography(python: string): string | undefined {
  const r = spawnSync(python, ['-c', 'import sys, cryptography; from cryptography.fernet import Fernet, MultiFernet; print(sys.executable, cryptography.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const candidates = [...new Set([process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => Boolean(p)))];
const pythons: Array<{ python: string; about: string }> = [];
const seen = new Set<string>();
for (const python of candidates) {
  const about = hasCryptography(python);
  if (about && !seen.has(about)) {
    seen.add(about);
    pythons.push({ python, about });
  }
}

test('a python3 with the cryptography package is available', () => {
  assert.ok(
    pythons.length > 0,
    `none of ${candidates.join(', ')} can import cryptography.fernet: install it (pip install cryptography, or apt-get install python3-cryptography) or point PYTHON at a python3 that has it`,
  );
});

function py(python: string, request: Record<string, unknown>): Record<string, unknown> {
  const r = spawnSync(python, ['-c', PY], { input: JSON.stringify(request), encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${python} ${String(request.op)} failed (exit ${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const b64 = (buf: Buffer) => buf.toString('base64');
const PLAIN = Buffer.concat([Buffer.from('pässwörd 🔑 '), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);

for (const { python, about } of pythons) {
  const label = `[${about}]`;

  test(`${label} Python decrypts our token with the same key`, () => {
    const key = generateFernetKey();
    const created = new Date('2023-07-01T10:20:30Z');
    for (const plain of [PLAIN, Buffer.alloc(0), Buffer.alloc(16, 7), Buffer.from('x')]) {
      const token = new Fernet(key).encrypt(plain, created);
      const out = py(python, { op: 'decrypt', key, token });
      assert.is(out.plain, b64(plain));
      assert.is(out.ts, created.getTime() / 1000);
    }
  });

  test(`${label} we decrypt Python's token, and a fixed IV and time give byte-identical tokens`, () => {
    const key = generateFernetKey();
    const token = py(python, { op: 'encrypt', key, plain: b64(PLAIN) }).token as string;
    assert.equal(new Fernet(key).decrypt(token, { ttlSeconds: 600 }), PLAIN);
    const iv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const ts = 1_700_000_123;
    const theirs = py(python, { op: 'encrypt_from_parts', key, plain: b64(PLAIN), ts, iv: b64(iv) }).token as string;
    assert.is(new Fernet(key).encrypt(PLAIN, new Date(ts * 1000), iv), theirs);
  });

  test(`${label} keys: Python accepts ours, we accept Python's`, () => {
    const theirKey = py(python, { op: 'generate_key' }).key as string;
    const token = new Fernet(theirKey).encrypt('k');
    assert.is(py(python, { op: 'decrypt', key: theirKey, token }).plain, b64(Buffer.from('k')));
  });

  test(`${label} Python's MultiFernet decrypts a token made under our second key`, () => {
    const [k1, k2] = [generateFernetKey(), generateFernetKey()];
    const token = new Fernet(k2).encrypt(PLAIN);
    assert.is(py(python, { op: 'multi_decrypt', keys: [k1, k2], token }).plain, b64(PLAIN));
    // And a token from our MultiFernet (first key) decrypts in Python with that key alone.
    const ours = new MultiFernet([new Fernet(k1), new Fernet(k2)]).encrypt(PLAIN);
    assert.is(py(python, { op: 'decrypt', key: k1, token: ours }).plain, b64(PLAIN));
  });

  test(`${label} rotate agrees both ways: first key, original timestamp kept`, () => {
    const [kNew, kOld] = [generateFernetKey(), generateFernetKey()];
    const created = new Date('2021-01-02T03:04:05Z');
    const oldToken = new Fernet(kOld).encrypt(PLAIN, created);
    // Ours, read by Python with the new key only.
    const ours = new MultiFernet([new Fernet(kNew), new Fernet(kOld)]).rotate(oldToken);
    const read = py(python, { op: 'decrypt', key: kNew, token: ours });
    assert.is(read.plain, b64(PLAIN));
    assert.is(read.ts, created.getTime() / 1000);
    // Python's, read by us with the new key only.
    const theirs = py(python, { op: 'multi_rotate', keys: [kNew, kOld], token: oldToken }).token as string;
    assert.equal(new Fernet(kNew).decrypt(theirs), PLAIN);
    assert.is(new Fernet(kNew).extractTimestamp(theirs).getTime(), created.getTime());
  });

  test(`${label} Python refuses what we refuse for a wrong key or a tampered token`, () => {
    const key = generateFernetKey();
    const token = new Fernet(key).encrypt(PLAIN);
    assert.is(py(python, { op: 'rejects', key: generateFernetKey(), token }).rejected, true);
    const raw = Buffer.from(token, 'base64url');
    raw[30]! ^= 1;
    const tampered = raw.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    assert.is(py(python, { op: 'rejects', key, token: tampered }).rejected, true);
  });
}

test.run();
