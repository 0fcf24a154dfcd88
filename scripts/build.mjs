#!/usr/bin/env node
/**
 * Compiles the TypeScript sources that run in production (lib, producers, workers,
 * cli, the generated Prisma client and the benchmarks' child entries) to plain ESM
 * JavaScript in dist/, file by file with the same layout, and copies what they read
 * at run time (Lua scripts, migrations). Type checking stays with `tsc -p .`.
 *
 * Why: a process running through the tsx loader holds about 50 MB more memory and
 * starts slower than the same code compiled; the worker's memory budget is 250 MB.
 *
 * `ensureBuilt()` rebuilds only when a source is newer than the last build, so the
 * `bulwark` command can call it on every start at the cost of a directory walk.
 * The build goes to a temporary directory that is renamed into place: a concurrent
 * start never sees half a dist/.
 */
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.build-stamp');
const SOURCE_DIRS = ['lib', 'producers', 'api', 'app', 'workers', 'cli', 'generated'];
const EXTRA_ENTRIES = [
  'bench/worker-child.ts',
  'bench/backup-child.ts',
  'bench/scale-raw-child.ts',
  'bench/fairness-floor-child.ts',
];
/** Files read at run time next to the code that reads them. */
const ASSET = /\.(lua)$/;

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    return d.isDirectory() ? walk(path) : [path];
  });
}

function sources() {
  const files = [...SOURCE_DIRS.flatMap((d) => walk(join(ROOT, d))), ...EXTRA_ENTRIES.map((f) => join(ROOT, f))];
  const migrations = walk(join(ROOT, 'prisma', 'migrations'));
  return {
    code: files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    assets: [...files.filter((f) => ASSET.test(f)), ...migrations],
  };
}

/** Newest modification time of anything the build reads, in ms. */
function newestSource({ code, assets }) {
  let newest = 0;
  for (const f of [...code, ...assets, join(ROOT, 'scripts', 'build.mjs')])
    newest = Math.max(newest, statSync(f).mtimeMs);
  return newest;
}

export async function build() {
  const { transform } = await import('esbuild');
  const found = sources();
  const newest = newestSource(found);
  const tmp = join(ROOT, `dist.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    for (const file of found.code) {
      const out = join(tmp, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(join(out, '..'), { recursive: true });
      const result = await transform(readFileSync(file, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        platform: 'node',
        target: 'node20',
        sourcefile: relative(ROOT, file),
      });
      writeFileSync(out, result.code);
    }
    for (const file of found.assets) cpSync(file, join(tmp, relative(ROOT, file)));
    writeFileSync(join(tmp, '.build-stamp'), String(newest));
    rmSync(DIST, { recursive: true, force: true });
    renameSync(tmp, DIST);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { files: found.code.length, assets: found.assets.length };
}

/** True when dist/ holds a build at least as new as every source. */
export function isFresh() {
  if (!existsSync(STAMP)) return false;
  return Number(readFileSync(STAMP, 'utf8')) >= newestSource(sources());
}

const LOCK = join(ROOT, 'dist.lock');
const LOCK_STALE_MS = 60_000;

/** Hold dist.lock (created exclusively) while `fn` runs; waits for another holder. */
async function withBuildLock(fn) {
  for (;;) {
    try {
      closeSync(openSync(LOCK, 'wx'));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // A builder that crashed leaves its lock behind; a build takes about a second.
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs > LOCK_STALE_MS)
        rmSync(LOCK, { force: true });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

/**
 * Build if stale; returns the dist directory. Builds are serialised by a lock file, so
 * several `bulwark` commands started together after an edit build once, not in turn
 * over each other's output.
 */
export async function ensureBuilt() {
  if (isFresh()) return DIST;
  await withBuildLock(async () => {
    if (!isFresh()) await build();
  });
  return DIST;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = Date.now();
  const { files, assets } = await build();
  process.stdout.write(`built ${files} modules and ${assets} assets into dist/ in ${Date.now() - t0} ms\n`);
}
