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

const BOUNDED = [
  {
    name: 'DATABASE_POOL_SIZE',
    field: 'databasePoolSize',
    unset: 10,
    accepted: [1, 25, 1000],
    refused: ['0', '1001', 'ten', '-1', '2.5'],
    range: 'between 1 and 1000',
  },
  {
    name: 'SHUTDOWN_DRAIN_MS',
    field: 'shutdownDrainMs',
    unset: 0,
    accepted: [0, 5000, 60000],
    refused: ['60001', '-1', '5s', '1e3', '100.5'],
    range: 'between 0 and 60000',
  },
] as const;

for (const v of BOUNDED) {
  test(`${v.name} defaults to ${v.unset} and takes whole numbers ${v.range}`, () => {
    assert.is(loadConfig({})[v.field], v.unset);
    assert.is(loadConfig({ [v.name]: '' })[v.field], v.unset, 'an empty variable counts as unset');
    for (const n of v.accepted) assert.is(loadConfig({ [v.name]: String(n) })[v.field], n);
  });

  test(`${v.name} out of range or not a whole number is refused, by name`, () => {
    for (const value of v.refused) {
      const err = refusal(v.name, value);
      assert.equal(
        err.problems.map((p) => p.path),
        [v.name],
        value,
      );
      assert.match(err.message, `${v.name}: must`, value);
    }
    assert.match(refusal(v.name, v.refused[0]).message, `${v.name}: must be ${v.range}`);
  });
}

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
