// `--objects-into BUCKET[/PREFIX]`: a bucket name and a prefix ending in "/", or a
// ValidationError naming the flag for a bad bucket or a prefix that could climb or hide.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseObjectsTarget } from '../../lib/backup/objects-restore.js';
import { ValidationError } from '../../lib/errors.js';

test('a bucket alone, or with a prefix (a "/" added at its end)', () => {
  assert.equal(parseObjectsTarget('bulwark'), { bucket: 'bulwark', prefix: '' });
  assert.equal(parseObjectsTarget('restored-1/copy'), { bucket: 'restored-1', prefix: 'copy/' });
  assert.equal(parseObjectsTarget('restored-1/a/b/'), { bucket: 'restored-1', prefix: 'a/b/' });
});

test('refused, naming the flag: bad bucket names, "..", "//", a leading "/", control characters', () => {
  for (const bad of ['', 'A', 'ab', 'Upper', '-x-', 'x/../y', 'x/a//b', 'x//a', 'xyz/a\u0001b', 'xyz/..']) {
    const err = (() => {
      try {
        parseObjectsTarget(bad);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    assert.instance(err, ValidationError, bad);
    assert.is((err as ValidationError).fields[0]!.path, 'objects-into', bad);
  }
});

test.run();
