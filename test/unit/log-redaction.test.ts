// Where redactSecrets' key rule draws its line: a key is redacted when its name contains
// a secret word (lib/redact.ts, SECRET_KEY), so a harmless name that contains one is
// redacted too. What reaches log output is checked in logger.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { redactSecrets, REDACTED } from '../../lib/redact.js';

test('redaction keeps look-alike names (passenger, bypass) but redacts any name containing a secret word, harmless tokens_used included', () => {
  const out = redactSecrets({
    passenger: 'Ann',
    bypass: true,
    tokens_used: 3,
    password: 'x',
    nested: { Authorization: 'y', note: 'z' },
  });
  assert.equal(out, {
    passenger: 'Ann',
    bypass: true,
    tokens_used: REDACTED,
    password: REDACTED,
    nested: { Authorization: REDACTED, note: 'z' },
  });
});

test.run();
