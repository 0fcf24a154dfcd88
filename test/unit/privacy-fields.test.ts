import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILT_IN_PERSONAL_FIELDS, findSubject, namesSubject, personalFieldsFor } from '../../lib/privacy/fields.js';
import { tenantSettingsSchema } from '../../lib/tenants/settings.js';

test('built-in fields, and a tenant adds its own in a fixed order', () => {
  assert.equal([...personalFieldsFor()], [...BUILT_IN_PERSONAL_FIELDS]);
  assert.equal([...personalFieldsFor({ privacy: { personalFields: [] } })], [...BUILT_IN_PERSONAL_FIELDS]);
  assert.equal(
    [...personalFieldsFor({ privacy: { personalFields: ['requestId', 'resourceId'] } })],
    [...BUILT_IN_PERSONAL_FIELDS, 'resourceId', 'requestId'],
  );
});

test('findSubject names each field and path, in JSON at any depth, strings only', () => {
  const entry = {
    actorId: 'alice@example.com',
    ip: '10.0.0.1',
    after: { user: { email: 'alice@example.com', n: 1 }, to: ['bob', 'alice@example.com'] },
    metadata: { 'alice@example.com': 'key only' },
    resourceId: 'alice@example.com',
  };
  assert.equal(findSubject(entry, 'alice@example.com'), [
    { field: 'actorId', path: 'actorId' },
    { field: 'after', path: 'after.user.email' },
    { field: 'after', path: 'after.to[1]' },
  ]);
  const fields = personalFieldsFor({ privacy: { personalFields: ['resourceId'] } });
  assert.is(findSubject(entry, 'alice@example.com', fields).at(-1)!.path, 'resourceId');
  assert.is(namesSubject(entry, 'ALICE@example.com'), false);
  assert.is(namesSubject(entry, ''), false);
  assert.is(namesSubject({ after: { n: 1 } }, '1'), false);
});

test('tenant settings: privacy.personalFields validated', () => {
  assert.equal(tenantSettingsSchema.parse({}).privacy.personalFields, []);
  assert.equal(tenantSettingsSchema.parse({ privacy: { personalFields: ['reason'] } }).privacy.personalFields, [
    'reason',
  ]);
  for (const bad of [['email'], ['reason', 'reason'], 'reason']) {
    assert.is(tenantSettingsSchema.safeParse({ privacy: { personalFields: bad } }).success, false, String(bad));
  }
});

test.run();
