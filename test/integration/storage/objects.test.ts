// producer.objects against a real s3rver: put/get/list/presignedGet in the tenant key
// layout, overwrite refused unless asked, pages and date ranges, presigned URLs that
// work and expire, and a tenant that tries every way to reach another tenant's prefix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { createStorage, ensureBuckets, StorageUnavailableError, type Storage } from '../../../lib/clients/storage.js';
import { loadConfig } from '../../../lib/config.js';
import { ConflictError, NotFoundError, ValidationError } from '../../../lib/errors.js';
import { createProducer, type Producer } from '../../../producers/index.js';
import { REDIS_URL, randomPrefix } from '../../helpers/env.js';
import { startS3Server, type S3Server } from '../../helpers/s3.js';

let s3: S3Server;
let storage: Storage;
let producer: Producer;
let now = new Date('2026-12-06T12:00:00.000Z');
const A = randomUUID();
const B = randomUUID();
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

test.before(async () => {
  s3 = await startS3Server();
  storage = createStorage(loadConfig(s3.env).storage);
  await ensureBuckets(storage);
  producer = createProducer({ redisUrl: REDIS_URL, queuePrefix: randomPrefix(), storage, clock: () => now });
});
test.after(async () => {
  await producer.close();
  await s3.stop();
});

async function rejects<E extends Error>(p: Promise<unknown>, type: new (...a: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}`);
}

test('put returns a key in the layout; get returns the same bytes and type', async () => {
  const key = await producer.objects.put(A, 'snapshots/raw', JPEG);
  assert.match(key, new RegExp(`^tenant/${A}/snapshots/raw/2026-12-06/[0-9a-f-]{36}\\.jpg$`));
  const got = await producer.objects.get(A, key);
  assert.equal([got.body.equals(JPEG), got.contentType, got.size], [true, 'image/jpeg', JPEG.length]);
  const stat = await storage.client.statObject(storage.bucket, key);
  assert.is(stat.metaData['content-type'], 'image/jpeg');
  const report = await producer.objects.put(A, 'reports', 'a,b\n1,2\n', {
    contentType: 'text/csv',
    id: 'nov',
    at: new Date('2026-11-30T23:59:59Z'),
  });
  assert.is(report, `tenant/${A}/reports/2026-11/nov.csv`);
});

test('put refuses to replace a key unless overwrite is set', async () => {
  const key = await producer.objects.put(A, 'reports', Buffer.from('%PDF-1 v1'), { id: 'fixed' });
  const err = await rejects(
    producer.objects.put(A, 'reports', Buffer.from('%PDF-1 v2'), { id: 'fixed' }),
    ConflictError,
  );
  assert.match(err.message, 'already exists (pass overwrite: true');
  assert.is(err.statusCode, 409);
  assert.is((await producer.objects.get(A, key)).body.toString(), '%PDF-1 v1');
  assert.is(await producer.objects.put(A, 'reports', Buffer.from('%PDF-1 v2'), { id: 'fixed', overwrite: true }), key);
  assert.is((await producer.objects.get(A, key)).body.toString(), '%PDF-1 v2');
});

test('bad input is a ValidationError naming the field; nothing is written', async () => {
  const fields = async (p: Promise<unknown>) => (await rejects(p, ValidationError)).fields.map((f) => f.path);
  assert.equal(await fields(producer.objects.put(A, 'snapshots/raw', JPEG, { id: '../x' })), ['id']);
  assert.equal(await fields(producer.objects.put(A, 'videos' as never, JPEG)), ['class']);
  assert.equal(await fields(producer.objects.put(A, 'reports', JPEG, { contentType: 'image/jpeg' })), ['contentType']);
  assert.equal(await fields(producer.objects.put(A, 'reports', JPEG, { expires: 1 } as never)), ['expires']);
  assert.equal(await fields(producer.objects.put(A, 'reports', 42 as never)), ['body']);
  assert.equal(await fields(producer.objects.put('tenant-a', 'reports', JPEG)), ['tenantId']);
  assert.equal(await fields(producer.objects.put(A, 'snapshots/raw', Buffer.alloc(20 * 1024 * 1024 + 1))), ['body']);
  assert.equal(await fields(producer.objects.list(A, 'reports', { limit: 0 })), ['limit']);
  assert.equal(
    await fields(producer.objects.list(A, 'reports', { from: new Date('2026-12-01'), to: new Date('2026-11-01') })),
    ['to'],
  );
  assert.equal(
    await fields(producer.objects.presignedGet(A, `tenant/${A}/reports/2026-11/nov.csv`, { expiresSeconds: 3601 })),
    ['expiresSeconds'],
  );
  const listed = await storage.client.listObjectsV2Query(
    storage.bucket,
    `tenant/${A}/snapshots/raw/`,
    '',
    '',
    1000,
    '',
  );
  assert.is(listed.objects.length, 1, "only the first test's snapshot");
});

test('get refuses an object larger than its class allows (written around Bulwark), without reading it', async () => {
  const key = `tenant/${A}/snapshots/raw/2026-12-05/big.jpg`;
  const big = Buffer.alloc(20 * 1024 * 1024 + 1);
  await storage.client.putObject(storage.bucket, key, big, big.length);
  const err = await rejects(producer.objects.get(A, key), ValidationError);
  assert.match(err.message, 'larger than the 20971520 bytes class snapshots/raw allows');
  await storage.client.removeObject(storage.bucket, key);
});

test('list pages through one class, oldest period first, within a date range', async () => {
  const T = randomUUID();
  const days = ['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04'];
  const keys: string[] = [];
  for (const day of days)
    for (const n of [1, 2, 3])
      keys.push(
        await producer.objects.put(T, 'snapshots/raw', JPEG, { id: `s${n}`, at: new Date(`${day}T10:00:00Z`) }),
      );
  await producer.objects.put(T, 'reports', Buffer.from('%PDF'), { at: new Date('2026-12-02T00:00:00Z') });
  const all: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await producer.objects.list(T, 'snapshots/raw', { limit: 5, cursor });
    all.push(...page.objects.map((o) => o.key));
    cursor = page.cursor;
    pages++;
  } while (cursor && pages < 10);
  assert.equal(all, keys, 'every snapshot once, in key order, no report');
  assert.is(pages, 3);
  const ranged = await producer.objects.list(T, 'snapshots/raw', {
    from: new Date('2026-12-02T23:59:00Z'),
    to: new Date('2026-12-03T00:00:00Z'),
  });
  assert.equal(
    ranged.objects.map((o) => `${o.period}/${o.id}`),
    ['2026-12-02/s1', '2026-12-02/s2', '2026-12-02/s3', '2026-12-03/s1', '2026-12-03/s2', '2026-12-03/s3'],
  );
  assert.is(ranged.cursor, undefined);
  const first = ranged.objects[0]!;
  assert.equal([first.size, first.lastModified instanceof Date], [JPEG.length, true]);
});

test("a tenant cannot read, list, sign or overwrite another tenant's objects", async () => {
  const theirs = await producer.objects.put(B, 'reports', Buffer.from('%PDF secret of B'), { id: 'b-report' });
  // Thunks, called one at a time: a rejection must not wait unhandled while another is awaited.
  const attempts: Array<() => Promise<unknown>> = [
    () => producer.objects.get(A, theirs),
    () => producer.objects.get(A, theirs.replace(B, `${A}/reports/2026-12/../../../${B}`)),
    () => producer.objects.get(A, `tenant/${A}/../${B}/reports/2026-12/b-report.pdf`),
    () =>
      producer.objects.get(A, `tenant/${A}/reports/2026-12/b-report.pdf/../../../../${B}/reports/2026-12/b-report.pdf`),
    () => producer.objects.presignedGet(A, theirs),
    () => producer.objects.put(A, 'reports', Buffer.from('x'), { id: `../../${B}/reports/2026-12/b-report` }),
    () => producer.objects.put(`${A}/../${B}`, 'reports', Buffer.from('x'), { id: 'b-report', overwrite: true }),
    // A cursor made of B's key, and one of A's key in another class.
    () => producer.objects.list(A, 'reports', { cursor: Buffer.from(theirs).toString('base64url') }),
    () =>
      producer.objects.list(A, 'reports', {
        cursor: Buffer.from(`tenant/${A}/snapshots/raw/2026-12-01/x.jpg`).toString('base64url'),
      }),
    () => producer.objects.list(A, 'reports', { cursor: 'not a cursor' }),
  ];
  for (const [i, p] of attempts.entries()) {
    const err = await rejects(p(), ValidationError).catch((e: unknown) => {
      throw new Error(`attempt ${i}: ${String(e)}`);
    });
    assert.ok(err.fields.length > 0, `attempt ${i}`);
  }
  const listedByA = await producer.objects.list(A, 'reports');
  assert.not.ok(
    listedByA.objects.some((o) => o.key.includes(B)),
    'A lists only its own',
  );
  assert.is((await producer.objects.get(B, theirs)).body.toString(), '%PDF secret of B', "B's object unchanged");
});

test('presignedGet: a working URL that expires; default 5 minutes, at most an hour', async () => {
  const key = await producer.objects.put(A, 'reports', Buffer.from('%PDF presigned'), { id: 'signed' });
  now = new Date();
  const { url, expiresAt } = await producer.objects.presignedGet(A, key);
  assert.is(expiresAt.getTime() - now.getTime(), 300_000);
  assert.match(url, 'X-Amz-Expires=300');
  const res = await fetch(url);
  assert.is(res.status, 200);
  assert.is(await res.text(), '%PDF presigned');
  // Signed as if 10 minutes ago for 5 minutes: already expired, so the store refuses it.
  now = new Date(Date.now() - 600_000);
  const old = await producer.objects.presignedGet(A, key, { expiresSeconds: 300 });
  const refused = await fetch(old.url);
  assert.is(refused.status, 403);
  await refused.arrayBuffer();
  now = new Date();
  await rejects(producer.objects.presignedGet(A, key.replace('signed', 'missing')), NotFoundError);
  await rejects(producer.objects.get(A, key.replace('signed', 'missing')), NotFoundError);
});

test('a store that is down: StorageUnavailableError (503) naming S3_ENDPOINT, never the secret', async () => {
  const other = await startS3Server();
  const env = { ...other.env, S3_SECRET_KEY: 'distinct-secret-value-xyz' };
  const p = createProducer({
    redisUrl: REDIS_URL,
    queuePrefix: randomPrefix(),
    storage: createStorage(loadConfig(env).storage),
  });
  try {
    await other.stop();
    // Called one at a time: a rejection must not wait unhandled while another is awaited.
    for (const call of [
      () => p.objects.put(A, 'reports', Buffer.from('x')),
      () => p.objects.list(A, 'reports'),
      () => p.objects.get(A, `tenant/${A}/reports/2026-12/x.pdf`),
    ]) {
      const err = await rejects(call(), StorageUnavailableError);
      assert.is(err.statusCode, 503);
      assert.match(err.message, `${other.endpoint} (S3_ENDPOINT)`);
      assert.not.match(err.message, 'distinct-secret-value-xyz');
    }
  } finally {
    await p.close();
  }
});

test('a producer without a store says how to give it one', async () => {
  const p = createProducer({ redisUrl: REDIS_URL, queuePrefix: randomPrefix() });
  try {
    await p.objects.put(A, 'reports', Buffer.from('x')).then(
      () => assert.unreachable('must refuse'),
      (err: Error) => assert.match(err.message, 'pass `storage`'),
    );
  } finally {
    await p.close();
  }
});

test.run();
