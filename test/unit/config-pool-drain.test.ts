// DATABASE_POOL_SIZE and SHUTDOWN_DRAIN_MS: their defaults, their bounds, and a refusal
// that names the variable and its range.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

function refusal(name: string, value: string): ConfigError {
  try {
    loadConfig({ [name]: value });
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error(`${name}=${value} was accepted`);
}

test('DATABASE_POOL_SIZE defaults to 10 and takes 1 to 1000', () => {
  assert.is(loadConfig({}).databasePoolSize, 10);
  assert.is(loadConfig({ DATABASE_POOL_SIZE: '' }).databasePoolSize, 10, 'an empty variable counts as unset');
  assert.is(loadConfig({ DATABASE_POOL_SIZE: '1' }).databasePoolSize, 1);
  assert.is(loadConfig({ DATABASE_POOL_SIZE: '25' }).databasePoolSize, 25);
  assert.is(loadConfig({ DATABASE_POOL_SIZE: '1000' }).databasePoolSize, 1000);
});

test('DATABASE_POOL_SIZE outside 1..1000 or not a whole number is refused, by name', () => {
  for (const value of ['0', '1001', 'ten', '-1', '2.5']) {
    const err = refusal('DATABASE_POOL_SIZE', value);
    assert.equal(err.problems.map((p) => p.path), ['DATABASE_POOL_SIZE'], value);
    assert.match(err.message, 'DATABASE_POOL_SIZE: must', value);
  }
  assert.match(refusal('DATABASE_POOL_SIZE', '1001').message, 'DATABASE_POOL_SIZE: must be between 1 and 1000');
});

test('SHUTDOWN_DRAIN_MS defaults to 0 (no wait) and takes 0 to 60000', () => {
  assert.is(loadConfig({}).shutdownDrainMs, 0);
  assert.is(loadConfig({ SHUTDOWN_DRAIN_MS: '' }).shutdownDrainMs, 0);
  assert.is(loadConfig({ SHUTDOWN_DRAIN_MS: '0' }).shutdownDrainMs, 0);
  assert.is(loadConfig({ SHUTDOWN_DRAIN_MS: '5000' }).shutdownDrainMs, 5000);
  assert.is(loadConfig({ SHUTDOWN_DRAIN_MS: '60000' }).shutdownDrainMs, 60000);
});

test('SHUTDOWN_DRAIN_MS above 60000 or not a whole number of ms is refused, by name', () => {
  for (const value of ['60001', '-1', '5s', '1e3', '100.5']) {
    const err = refusal('SHUTDOWN_DRAIN_MS', value);
    assert.equal(err.problems.map((p) => p.path), ['SHUTDOWN_DRAIN_MS'], value);
    assert.match(err.message, 'SHUTDOWN_DRAIN_MS: must', value);
  }
  assert.match(refusal('SHUTDOWN_DRAIN_MS', '60001').message, 'SHUTDOWN_DRAIN_MS: must be between 0 and 60000');
});

test('both bad at once: one error names both', () => {
  let err: ConfigError | undefined;
  try {
    loadConfig({ DATABASE_POOL_SIZE: '0', SHUTDOWN_DRAIN_MS: 'ten' });
  } catch (e) {
    err = e as ConfigError;
  }
  assert.instance(err, ConfigError);
  assert.equal(err!.problems.map((p) => p.path).sort(), ['DATABASE_POOL_SIZE', 'SHUTDOWN_DRAIN_MS']);
});

test.run();
