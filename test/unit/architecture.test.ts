// Structural rules from design.md, checked on the import graph: contracts import
// nothing of the project, producers and workers never import each other, no cycles,
// and no duplicate test names anywhere in the suite.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIRS = ['lib', 'producers', 'workers', 'cli'];

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p, suffix) : p.endsWith(suffix) ? [p] : [];
  });
}

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)];
  return specs.map((m) => relative(ROOT, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
}

const graph = new Map<string, string[]>();
for (const d of SOURCE_DIRS) for (const f of files(join(ROOT, d), '.ts')) graph.set(relative(ROOT, f), localImports(f));

test('contracts import nothing of the project but each other', () => {
  for (const [file, deps] of graph) {
    if (!file.startsWith('lib/contracts/')) continue;
    for (const dep of deps) assert.ok(dep.startsWith('lib/contracts/'), `${file} imports ${dep}`);
  }
});

test('producers and workers never import each other (but for the composition root)', () => {
  for (const [file, deps] of graph) {
    if (file.startsWith('producers/')) for (const d of deps) assert.not.ok(d.startsWith('workers/'), `${file} imports ${d}`);
    // The composition root wires the HTTP API (which lives with the producers) into the server.
    if (file.startsWith('workers/') && file !== 'app/main.ts') for (const d of deps) assert.not.ok(d.startsWith('producers/'), `${file} imports ${d}`);
    if (file.startsWith('lib/')) for (const d of deps) assert.not.ok(/^(workers|producers|cli)\//.test(d), `${file} imports ${d}`);
  }
});

test('there are no circular imports', () => {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') assert.unreachable(`cycle: ${[...path, f].join(' -> ')}`);
    state.set(f, 'visiting');
    for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
});

test('only app/main.ts and the CLI commands build clients (benchmarks and tests aside)', () => {
  for (const [file] of graph) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    if (/\bcreate(Redis|Prisma)\(/.test(text) && !/^lib\/clients\//.test(file)) {
      assert.ok(file === 'app/main.ts' || file.startsWith('cli/commands/'), `${file} builds a client`);
    }
  }
});

test('no two tests in the suite share a name', () => {
  const seen = new Map<string, string>();
  for (const f of files(join(ROOT, 'test'), '.test.ts')) {
    const text = readFileSync(f, 'utf8');
    // A name in any quote (escaped quotes inside it kept), on an indented line too
    // (tests declared in a loop), and on the line after `test(` when wrapped.
    for (const m of text.matchAll(/^[ \t]*test\(\s*(['"`])((?:\\.|(?!\1)[^\\])+)\1/gm)) {
      const name = m[2]!;
      const where = relative(ROOT, f);
      assert.not.ok(seen.has(name), `"${name}" is in both ${seen.get(name)} and ${where}`);
      seen.set(name, where);
    }
  }
});

test.run();
