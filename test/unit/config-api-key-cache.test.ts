// API_KEY_CACHE_MS bounds how late a revocation takes effect, and the requirement is
// "within 5 s": the default is 5000 ms and anything above it is refused at start-up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

function refusal(value: string): ConfigError {
  try {
    loadConfig({ API_KEY_CACHE_MS: value });
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error(`API_KEY_CACHE_MS=${value} was accepted`);
}

test('the key cache defaults to 5000 ms and takes 0 to 5000', () => {
  assert.is(loadConfig({}).apiKeyCacheMs, 5000);
  assert.is(loadConfig({ API_KEY_CACHE_MS: '' }).apiKeyCacheMs, 5000, 'an empty variable counts as unset');
  assert.is(loadConfig({ API_KEY_CACHE_MS: '0' }).apiKeyCacheMs, 0);
  assert.is(loadConfig({ API_KEY_CACHE_MS: '5000' }).apiKeyCacheMs, 5000);
});

test('a key cache above 5000 ms is refused, naming the variable and the range', () => {
  for (const value of ['5001', '10000', '60000']) {
    const err = refusal(value);
    assert.equal(
      err.problems.map((p) => p.path),
      ['API_KEY_CACHE_MS'],
      value,
    );
    assert.match(err.message, 'API_KEY_CACHE_MS: must be between 0 and 5000', value);
  }
});

test('a key cache that is not a whole number of ms is refused', () => {
  for (const value of ['-1', '4999.5', '5s'])
    assert.equal(
      refusal(value).problems.map((p) => p.path),
      ['API_KEY_CACHE_MS'],
      value,
    );
});

test.run();
