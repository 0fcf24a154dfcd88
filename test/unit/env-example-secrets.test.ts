// .env.example is committed and copied around: every secret variable is in it, with an
// empty value, and no line (commented or not) gives one a value. The secret variables
// are the config's SECRET_VARIABLES, which must agree with the "Secret." marks of docs/configuration.md.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, SECRET_VARIABLES, loadConfig } from '../../lib/config.js';

const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
const configDoc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** Every assignment in the file, commented out or not: [name, value, commented]. */
const assignments = example
  .split('\n')
  .map((line) => /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim()))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ name: m[2]!, value: m[3]!, commented: m[1] !== undefined }));

test('the secret variables are config variables, and exactly the ones docs/configuration.md marks "Secret."', () => {
  assert.ok(SECRET_VARIABLES.length >= 3);
  for (const v of SECRET_VARIABLES) assert.ok(CONFIG_VARIABLES.includes(v), `${v} is not read by loadConfig`);
  const marked = configDoc
    .split('\n')
    .map((row) => /^\| `([A-Z0-9_]+)` \|.*\bSecret\.\s*\|$/.exec(row)?.[1])
    .filter((v): v is string => v !== undefined);
  assert.equal([...marked].sort(), [...SECRET_VARIABLES].sort());
});

test('.env.example lists every secret variable once, uncommented, with an empty value', () => {
  for (const v of SECRET_VARIABLES) {
    const lines = assignments.filter((a) => a.name === v);
    assert.equal(lines, [{ name: v, value: '', commented: false }], `${v} in .env.example`);
  }
});

test('the URL variables in .env.example carry no credentials', () => {
  for (const v of ['DATABASE_URL', 'REDIS_URL']) {
    const lines = assignments.filter((a) => a.name === v && a.value !== '');
    assert.ok(lines.length > 0, `${v} has an example value`);
    for (const { value } of lines) assert.is(new URL(value).password, '', `${v} example has a password`);
  }
});

test('.env.example, read as the configuration, sets no secret and is valid', () => {
  const env = Object.fromEntries(assignments.filter((a) => !a.commented).map((a) => [a.name, a.value]));
  const config = loadConfig(env);
  assert.equal([config.masterKeys, config.metricsToken, config.operator], [undefined, undefined, undefined]);
});

test.run();
