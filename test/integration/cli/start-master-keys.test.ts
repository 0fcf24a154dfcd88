// `bulwark start` without usable MASTER_KEYS stops at once, clearly: exit 2 with one
// message naming MASTER_KEYS and what is wrong, never the key text, and nothing left
// open (a check made after connecting would keep the process alive). Run as the
// installed bin in a directory of its own, so no .env fills the variable in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VARIABLES } from '../../../lib/config.js';
import { startUntilExit } from '../../helpers/cli.js';
import { randomPrefix, REDIS_URL } from '../../helpers/env.js';

const cwd = mkdtempSync(join(tmpdir(), 'bulwark-start-'));
test.after(() => rmSync(cwd, { recursive: true, force: true }));

async function start(masterKeys: string | undefined): Promise<{ code: number | null; output: string }> {
  // The test's own Bulwark variables must not reach the child.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CONFIG_VARIABLES.includes(k)));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    NODE_NO_WARNINGS: '1',
    // A database that does not exist: the refusal must come before anything connects.
    DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/bulwark_never_created',
    REDIS_URL,
    QUEUE_PREFIX: randomPrefix('start-keys'),
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...(masterKeys === undefined ? {} : { MASTER_KEYS: masterKeys }),
  };
  return startUntilExit(env, { cwd });
}

test('without MASTER_KEYS, start exits 2 naming the variable and how to make a key', async () => {
  const r = await start(undefined);
  assert.is(r.code, 2, r.output);
  assert.match(r.output, 'MASTER_KEYS: is required here; generate one with `bulwark keys generate`');
  assert.not.match(r.output, /bulwark_started|Server listening/);
});

test('a malformed MASTER_KEYS: start exits 2 naming the entry, never the key text', async () => {
  const keyText = 'c2VjcmV0LWJ1dC10b28tc2hvcnQ';
  const r = await start(`k1:${keyText}`);
  assert.is(r.code, 2, r.output);
  assert.match(r.output, 'MASTER_KEYS: entry 1 (id k1): key must be 32 bytes of base64url');
  assert.not.match(r.output, keyText);
  assert.not.match(r.output, /bulwark_started|Server listening/);
});

test.run();
