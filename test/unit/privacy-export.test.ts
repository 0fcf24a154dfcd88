// The subject export's pure parts: the subject's limits (each refusal named), its
// jsonpath (a JSON string literal, whatever the subject holds), the subject-object id
// convention, the tar writer against its reader (long paths split the ustar way, a
// body that is not its declared size refused), NDJSON cut into members, and
// PRIVACY_EXPORT_LINK_SECONDS validated once in lib/config.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { loadConfig } from '../../lib/config.js';
import { ConfigError, ValidationError } from '../../lib/errors.js';
import { ndjsonMembers } from '../../lib/privacy/export-bundle.js';
import { readTar, tarStream, type TarFile, type TarMember } from '../../lib/privacy/export-tar.js';
import { checkSubject, SUBJECT_MAX_LENGTH, subjectJsonPath } from '../../lib/privacy/subject-match.js';
import { subjectIdPrefix, subjectObjectId, subjectToken } from '../../lib/privacy/subject-objects.js';
import { objectKey, parseObjectKey } from '../../lib/storage/keys.js';

const T = '5b1e8f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ValidationError);
    return (err as ValidationError).fields.map((f) => `${f.path}: ${f.message}`).join('; ');
  }
  throw new Error('not refused');
};

test('subjects: 1-255 characters, no controls, no lone surrogates, no outer whitespace', () => {
  for (const ok of ['u-1', 'jane@example.com', 'ü'.repeat(SUBJECT_MAX_LENGTH), 'a b', '😀'])
    assert.is(checkSubject(ok), ok);
  assert.is(
    refusal(() => checkSubject(undefined)),
    'subject: is required',
  );
  assert.is(
    refusal(() => checkSubject(7)),
    'subject: must be a string',
  );
  assert.is(
    refusal(() => checkSubject('')),
    'subject: must not be empty',
  );
  assert.is(
    refusal(() => checkSubject('x'.repeat(256))),
    'subject: must be at most 255 characters',
  );
  for (const bad of ['a\u0000', 'a\u001b[31m', 'a\u0085', 'a\u2028b'])
    assert.match(
      refusal(() => checkSubject(bad)),
      'must not contain control characters',
    );
  assert.match(
    refusal(() => checkSubject('a\udc00')),
    'unpaired surrogates',
  );
  assert.match(
    refusal(() => checkSubject('a ')),
    'whitespace',
  );
});

test('the jsonpath holds the subject as a JSON string literal', () => {
  assert.is(subjectJsonPath('u-1'), 'strict $.** ? (@ == "u-1")');
  assert.is(subjectJsonPath('a"b\\c'), 'strict $.** ? (@ == "a\\"b\\\\c")');
  assert.is(subjectJsonPath('") || true || ("'), 'strict $.** ? (@ == "\\") || true || (\\"")');
});

test('subject object ids: s-{token}-{rest}, per tenant, valid keys of the layout', () => {
  const token = subjectToken(T, 'jane@example.com');
  assert.match(token, /^[0-9a-f]{32}$/);
  assert.is(
    token,
    createHash('sha256').update(`bulwark-subject\0${T}\0jane@example.com`).digest('hex').slice(0, 32),
    'the documented derivation',
  );
  assert.is.not(subjectToken('6b1e8f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'jane@example.com'), token, 'differs per tenant');
  assert.is(subjectToken(T.toUpperCase(), 'jane@example.com'), token);
  const id = subjectObjectId(T, 'jane@example.com', 'avatar');
  assert.is(id, `${subjectIdPrefix(T, 'jane@example.com')}avatar`);
  const key = objectKey({ tenantId: T, class: 'reports', at: new Date(), id: subjectObjectId(T, 'jane@example.com') });
  assert.ok(parseObjectKey(key).id.startsWith(`s-${token}-`));
  assert.is(key.includes('jane'), false);
  assert.match(
    refusal(() => subjectObjectId(T, 'x', 'a/b')),
    'rest',
  );
});

async function* from(members: TarMember[]) {
  yield* members;
}
async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of gen) out.push(c);
  return Buffer.concat(out);
}

test('tar: members read back with their bytes, long paths split, files reported with SHA-256', async () => {
  const long = `objects/snapshots/annotated/2026-12-06/s-${'a'.repeat(32)}-${'b'.repeat(36)}-and-a-longer-tail.jpg`;
  assert.ok(long.length > 100);
  const files: TarFile[] = [];
  const bodies = [Buffer.from('{"a":1}\n'), Buffer.alloc(0), Buffer.alloc(1500, 7)];
  const archive = await collect(
    tarStream(
      from([
        { path: 'audit-entries/00001.ndjson', size: bodies[0]!.length, body: bodies[0]! },
        { path: 'alerts/00001.ndjson', size: 0, body: bodies[1]! },
        {
          path: long,
          size: 1500,
          body: (async function* () {
            yield bodies[2]!.subarray(0, 700);
            yield bodies[2]!.subarray(700);
          })(),
        },
      ]),
      (f) => files.push(f),
      new Date('2026-12-08T10:00:00Z'),
    ),
  );
  assert.is(archive.length % 512, 0);
  const back = readTar(archive);
  assert.equal(
    back.map((m) => m.path),
    ['audit-entries/00001.ndjson', 'alerts/00001.ndjson', long],
  );
  for (const [i, m] of back.entries()) assert.equal(m.body, bodies[i]);
  assert.is(files[2]!.sha256, createHash('sha256').update(bodies[2]!).digest('hex'));
});

test('tar: a body longer or shorter than declared is refused; so is a path leading out', async () => {
  const run = (m: TarMember) => collect(tarStream(from([m]), () => undefined, new Date()));
  await run({ path: 'a', size: 2, body: Buffer.from('abc') }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, 'longer than its 2 bytes'),
  );
  await run({ path: 'a', size: 4, body: Buffer.from('abc') }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, 'ended at 3 of its 4 bytes'),
  );
  await run({ path: '../etc/passwd', size: 0, body: Buffer.alloc(0) }).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, 'not a plain relative path'),
  );
});

test('NDJSON is cut into members of about the given size, records counted; none matched still gives one', async () => {
  const records = new Map<string, number>();
  const chunks = (async function* () {
    for (let i = 0; i < 10; i++) yield Buffer.from(`{"i":${i}}\n{"i":${i}}\n`);
  })();
  const members: TarMember[] = [];
  for await (const m of ndjsonMembers('audit-entries', chunks, records, 40)) members.push(m);
  assert.ok(members.length >= 4, `${members.length}`);
  assert.is(
    [...records.values()].reduce((a, b) => a + b, 0),
    20,
  );
  const empty: TarMember[] = [];
  for await (const m of ndjsonMembers('alerts', (async function* () {})(), records)) empty.push(m);
  assert.equal(
    empty.map((m) => [m.path, m.size]),
    [['alerts/00001.ndjson', 0]],
  );
});

test('PRIVACY_EXPORT_LINK_SECONDS: 900 by default, 60-3600, refused by name', () => {
  assert.is(loadConfig({}).privacyExportLinkSeconds, 900);
  assert.is(loadConfig({ PRIVACY_EXPORT_LINK_SECONDS: '60' }).privacyExportLinkSeconds, 60);
  for (const bad of ['59', '3601', 'soon']) {
    try {
      loadConfig({ PRIVACY_EXPORT_LINK_SECONDS: bad });
      assert.unreachable(bad);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as Error).message, 'PRIVACY_EXPORT_LINK_SECONDS');
    }
  }
});

test.run();
