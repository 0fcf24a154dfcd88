// Retention's object classes are the key layout's classes (lib/storage/keys.ts), one
// each: a class added to the layout without a TTL, or a TTL for a class the layout
// does not have, fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OBJECT_CLASSES } from '../../lib/retention/classes.js';
import { classPrefix, OBJECT_CLASS_NAMES, OBJECT_CLASSES as LAYOUT } from '../../lib/storage/keys.js';

test('every class of the key layout has exactly one retention class', () => {
  assert.equal(OBJECT_CLASSES.map((c) => c.prefix).sort(), [...OBJECT_CLASS_NAMES].sort());
  const tenant = '5b1e8f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
  for (const c of OBJECT_CLASSES) {
    assert.is(classPrefix(tenant, c.prefix), `tenant/${tenant}/${c.prefix}/`);
    assert.ok(['day', 'month'].includes(LAYOUT[c.prefix].granularity), c.name);
  }
});

test.run();
