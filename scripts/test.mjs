#!/usr/bin/env node
// Runs every test file in its own Node process (so one hung or crashing file cannot
// take the others down), two at a time, each with a time limit; prints each file's
// output, then the closing line CI reads: "N passed, N failed".
// TEST_DIR (default test/) is the folder searched, relative to the checkout; the
// runner's own test points it at scratch files.
import { spawn } from 'node:child_process';
import { ensureBuilt } from './build.mjs';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const TEST_DIR = resolve(ROOT, process.env.TEST_DIR ?? 'test');
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 180_000);
const PARALLEL = Number(process.env.TEST_PARALLEL ?? 2);
const filter = process.argv[2];

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'helpers' ? [] : findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: '0', NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n!! ${relative(ROOT, file)} exceeded ${FILE_TIMEOUT_MS} ms and was killed\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const clean = output.replace(/\u001b\[[0-9;]*m/g, '');
      const num = (label) => Number(clean.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? NaN);
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped') || 0;
      // uvu's Total counts the tests that ran: skipped ones are in neither Total nor Passed.
      let failed = Number.isNaN(total) ? 1 : total - passed;
      // A file that crashed or exited non-zero after its tests counts as one failure.
      if (code !== 0 && failed === 0) failed = 1;
      resolve({
        file,
        passed: Number.isNaN(passed) ? 0 : passed,
        failed,
        skipped,
        code,
        output: clean,
        ms: Date.now() - started,
      });
    });
  });
}

// Tests that run the `bulwark` command would otherwise race to build dist/ in parallel.
await ensureBuilt();
// The filter matches the path from the checkout, not the absolute one: a checkout whose
// own folder name contains the filter (e.g. /work/wt-privacy-checkpoints and `npm test --
// checkpoints`) would otherwise run every file.
const files = findTests(TEST_DIR)
  .filter((f) => !filter || relative(ROOT, f).includes(filter))
  .sort();
const results = [];
let next = 0;
async function lane() {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file);
    results.push(r);
    process.stdout.write(`\n=== ${relative(ROOT, r.file)} (${r.ms} ms, exit ${r.code}) ===\n${r.output.trim()}\n`);
  }
}
await Promise.all(Array.from({ length: Math.max(1, PARALLEL) }, lane));
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
const bad = results.filter((r) => r.failed > 0).map((r) => relative(ROOT, r.file));
if (bad.length) process.stdout.write(`\nfailing files: ${bad.join(', ')}\n`);
// CI reads the last line and wants exactly "N passed, N failed": skips go on their own line before it.
if (skipped) process.stdout.write(`\n${skipped} skipped`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
