// scripts/test.mjs (`npm test`) must end with the line CI reads, "N passed, N failed"
// alone on its line, whatever the files report: skipped tests included. The runner is
// pointed at a scratch folder of test files (TEST_DIR) inside the checkout, so they
// resolve uvu from its node_modules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLOSING = /^\d+ passed, \d+ failed$/;

/** Run the runner over `files` (name → source); returns its stdout lines and exit code. */
function runOver(files: Record<string, string>): { lines: string[]; status: number | null } {
  const dir = `.tmp/runner-${randomBytes(4).toString('hex')}`;
  mkdirSync(`${ROOT}/${dir}`, { recursive: true });
  try {
    for (const [name, source] of Object.entries(files)) writeFileSync(`${ROOT}/${dir}/${name}`, source);
    // The filter (the folder's name) keeps a runner that ignored TEST_DIR from running the whole suite.
    const r = spawnSync(process.execPath, ['scripts/test.mjs', dir], {
      cwd: ROOT,
      env: { ...process.env, TEST_DIR: dir },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { lines: r.stdout.trimEnd().split('\n'), status: r.status };
  } finally {
    rmSync(`${ROOT}/${dir}`, { recursive: true, force: true });
  }
}

const HEAD = `import { test } from 'uvu';\nimport * as assert from 'uvu/assert';\n`;

test('a skipped test: the last line is still "N passed, N failed"; the skip is reported on a line of its own', () => {
  const { lines, status } = runOver({
    'a.test.ts': `${HEAD}test('ok', () => assert.ok(true));\ntest.skip('later', () => assert.ok(false));\ntest.run();\n`,
  });
  assert.is(lines.at(-1), '1 passed, 0 failed', lines.join('\n'));
  assert.ok(lines.includes('1 skipped'), lines.join('\n'));
  assert.is(status, 0);
});

test('a failing test: the closing line counts it and the exit code is 1', () => {
  const { lines, status } = runOver({
    'a.test.ts': `${HEAD}test('ok', () => assert.ok(true));\ntest.run();\n`,
    'b.test.ts': `${HEAD}test('bad', () => assert.ok(false));\ntest.run();\n`,
  });
  assert.match(lines.at(-1)!, CLOSING);
  assert.is(lines.at(-1), '1 passed, 1 failed', lines.join('\n'));
  assert.is(status, 1);
});

test('a skip in one file does not hide a failure in another (uvu leaves skips out of Total)', () => {
  const { lines, status } = runOver({
    'a.test.ts': `${HEAD}test('ok', () => assert.ok(true));\ntest.skip('later', () => assert.ok(false));\ntest.run();\n`,
    'b.test.ts': `${HEAD}test('bad', () => assert.ok(false));\ntest.run();\n`,
  });
  assert.is(lines.at(-1), '1 passed, 1 failed', lines.join('\n'));
  assert.is(status, 1);
});

test.run();
