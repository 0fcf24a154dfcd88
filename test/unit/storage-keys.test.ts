// The tenant key layout (lib/storage/keys.ts): keys as afasa D spells them, periods in
// UTC, every bad part refused by name, and a key parses back only when this module
// could have built it (so its tenant is the prefix it really lies under).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ValidationError } from '../../lib/errors.js';
import {
  classPrefix,
  OBJECT_CLASSES,
  OBJECT_CLASS_NAMES,
  objectKey,
  parseObjectKey,
  periodOf,
  periodStart,
  tenantObjectKey,
  tenantPrefix,
} from '../../lib/storage/keys.js';

const T = '5b1e2f6a-0c4d-4e8f-9a1b-2c3d4e5f6a7b';
const U = '0f3c9d1e-7a2b-4c5d-8e6f-1a2b3c4d5e6f';
// 23:30 on the last day of a month in UTC: the next day and month in any zone east of UTC.
const AT = new Date('2026-11-30T23:30:00.000Z');

function refused(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ValidationError);
    return (err as ValidationError).fields;
  }
  throw new Error('expected a ValidationError');
}

test('keys follow tenant/{id}/{class}/{period}/{id}.{ext}, periods in UTC', () => {
  assert.is(
    objectKey({ tenantId: T, class: 'snapshots/raw', at: AT, id: U }),
    `tenant/${T}/snapshots/raw/2026-11-30/${U}.jpg`,
  );
  assert.is(
    objectKey({ tenantId: T, class: 'snapshots/annotated', at: AT, id: 'a_1', contentType: 'image/png' }),
    `tenant/${T}/snapshots/annotated/2026-11-30/a_1.png`,
  );
  assert.is(objectKey({ tenantId: T, class: 'reports', at: AT, id: U }), `tenant/${T}/reports/2026-11/${U}.pdf`);
  assert.is(
    objectKey({ tenantId: T.toUpperCase(), class: 'reports', at: AT, id: 'x', contentType: 'text/csv' }),
    `tenant/${T}/reports/2026-11/x.csv`,
    'tenant ids lower-cased',
  );
  assert.is(tenantPrefix(T), `tenant/${T}/`);
  assert.is(classPrefix(T, 'reports'), `tenant/${T}/reports/`);
  assert.equal([periodOf('snapshots/raw', AT), periodOf('reports', AT)], ['2026-11-30', '2026-11']);
  assert.is(periodStart('2026-11').toISOString(), '2026-11-01T00:00:00.000Z');
  assert.is(periodStart('2026-11-30').toISOString(), '2026-11-30T00:00:00.000Z');
});

test('every class declares its granularity, content types and size limit', () => {
  assert.equal([...OBJECT_CLASS_NAMES].sort(), ['exports', 'reports', 'snapshots/annotated', 'snapshots/raw']);
  for (const name of OBJECT_CLASS_NAMES) {
    const spec = OBJECT_CLASSES[name];
    assert.ok(['day', 'month'].includes(spec.granularity), name);
    assert.ok(Object.keys(spec.contentTypes).length > 0, name);
    assert.ok(
      spec.maxBytes > 0 && spec.maxBytes <= 64 * 1024 * 1024,
      `${name}: one PUT (s3rver and the minio client go multipart above 64 MiB)`,
    );
  }
});

test('bad parts are refused, each by name, all at once', () => {
  const fields = refused(() => objectKey({ tenantId: 'not-a-uuid', class: 'videos', at: new Date(NaN), id: '' }));
  assert.equal(
    fields.map((f) => f.path),
    ['tenantId', 'class', 'id', 'at'],
  );
  const message = (parts: Partial<Parameters<typeof objectKey>[0]>) =>
    refused(() => objectKey({ tenantId: T, class: 'reports', at: AT, id: 'x', ...parts }))[0]!;
  assert.equal(message({ id: '..' }), { path: 'id', message: 'must not contain ".."' });
  assert.equal(message({ id: 'a..b' }), { path: 'id', message: 'must not contain ".."' });
  assert.equal(message({ id: 'a/b' }), { path: 'id', message: 'must not contain "/"' });
  assert.equal(message({ id: 'a\nb' }), { path: 'id', message: 'must not contain control characters' });
  assert.equal(message({ id: 'a\u0000' }), { path: 'id', message: 'must not contain control characters' });
  assert.equal(message({ id: '' }), { path: 'id', message: 'must not be empty' });
  assert.equal(message({ id: 'a.b' }).path, 'id');
  assert.equal(message({ id: 'x'.repeat(129) }).path, 'id');
  assert.equal(message({ tenantId: `${T}/..` }).path, 'tenantId');
  assert.equal(message({ tenantId: `../${T}` }), { path: 'tenantId', message: 'must not contain ".."' });
  assert.equal(message({ class: 'snapshots/../reports' as never }), {
    path: 'class',
    message: 'must not contain ".."',
  });
  assert.equal(message({ class: 'snapshots//raw' as never }), {
    path: 'class',
    message: 'must not have an empty segment',
  });
  assert.equal(message({ class: 'snapshots' as never }).path, 'class');
  assert.equal(message({ contentType: 'image/jpeg' }), {
    path: 'contentType',
    message: 'must be one of application/pdf, text/csv for class reports',
  });
  assert.equal(message({ contentType: 'toString' }).path, 'contentType', 'no inherited property passes');
});

test('a built key parses back to its parts', () => {
  const key = objectKey({ tenantId: T, class: 'snapshots/raw', at: AT, id: U, contentType: 'image/png' });
  assert.equal(parseObjectKey(key), {
    tenantId: T,
    class: 'snapshots/raw',
    period: '2026-11-30',
    id: U,
    ext: 'png',
    contentType: 'image/png',
  });
  assert.equal(parseObjectKey(`tenant/${T}/reports/2026-11/r1.csv`).contentType, 'text/csv');
});

test('keys that this module could not have built are refused', () => {
  const bad = [
    `tenant/${T}/reports/2026-11/../../${U}/reports/2026-11/x.pdf`,
    `tenant/${T}/../${U}/reports/2026-11/x.pdf`,
    `tenant/${T}//reports/2026-11/x.pdf`,
    `tenant/${T}/reports/2026-11/x.jpg`,
    `tenant/${T}/reports/2026-11-30/x.pdf`,
    `tenant/${T}/reports/2026-13/x.pdf`,
    `tenant/${T}/snapshots/raw/2026-02-30/x.jpg`,
    `tenant/${T}/snapshots/2026-11-30/x.jpg`,
    `tenant/${T}/snapshots/raw/extra/2026-11-30/x.jpg`,
    `tenant/${T.toUpperCase()}/reports/2026-11/x.pdf`,
    `tenant/${T}/reports/2026-11/x.pdf/`,
    `tenant/${T}/reports/2026-11/x\u0007.pdf`,
    `/tenant/${T}/reports/2026-11/x.pdf`,
    `backups/${T}/reports/2026-11/x.pdf`,
    `tenant/${T}/reports/2026-11/.pdf`,
    '',
  ];
  for (const key of bad)
    assert.equal(
      refused(() => parseObjectKey(key)).map((f) => f.path),
      ['key'],
      JSON.stringify(key),
    );
  assert.equal(
    refused(() => parseObjectKey(42)).map((f) => f.path),
    ['key'],
  );
});

test("tenantObjectKey refuses another tenant's key", () => {
  const theirs = objectKey({ tenantId: U, class: 'reports', at: AT, id: 'x' });
  assert.equal(
    refused(() => tenantObjectKey(T, theirs)),
    [{ path: 'key', message: `is not under tenant ${T}'s prefix` }],
  );
  assert.is(tenantObjectKey(U, theirs).id, 'x');
  assert.is(tenantObjectKey(U.toUpperCase(), theirs).tenantId, U);
});

test.run();
