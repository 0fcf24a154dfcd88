// scripts/build.mjs: dist/ holds a compiled module for every production source and
// the files they read at run time, and a fresh build is recognised as such (so the
// `bulwark` command does not rebuild on every start).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, isFresh } from '../../scripts/build.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
}

test('every production source has its compiled module, and the Lua scripts and migrations are copied', async () => {
  const dist = await ensureBuilt();
  assert.ok(isFresh(), 'a build just made is fresh');
  const rel = (f: string) => f.slice(ROOT.length);
  const sources = ['lib', 'producers', 'api', 'app', 'workers', 'cli'].flatMap((d) => walk(join(ROOT, d))).map(rel);
  const missing = sources
    .map((f) => (f.endsWith('.ts') ? f.replace(/\.ts$/, '.js') : f))
    .filter((f) => !existsSync(join(dist, f)));
  assert.equal(missing, [], 'files missing from dist/');
  const migrations = walk(join(ROOT, 'prisma', 'migrations')).map(rel);
  assert.ok(migrations.length > 0);
  assert.equal(migrations.filter((f) => !existsSync(join(dist, f))), [], 'migrations missing from dist/');
});

test('the compiled composition root and CLI load without a TypeScript loader', async () => {
  const dist = await ensureBuilt();
  const main = (await import(join(dist, 'app', 'main.js'))) as { startBulwark?: unknown };
  const cli = (await import(join(dist, 'cli', 'main.js'))) as { main?: unknown };
  assert.type(main.startBulwark, 'function');
  assert.type(cli.main, 'function');
});

test.run();
