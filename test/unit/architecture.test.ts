// Structural rules of docs/architecture.md, checked on the import graph: contracts
// import nothing of the project; producers import neither the API nor the workers;
// only app/ (the composition root) imports both api/ and workers/; no cycles; and no
// duplicate test names anywhere in the suite.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_DIRS = ['lib', 'producers', 'api', 'workers', 'app', 'cli'];

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

const imports = (deps: string[], top: string) => deps.some((d) => d.startsWith(`${top}/`));

test('producers import neither the API nor the workers; lib imports no layer above it', () => {
  for (const [file, deps] of graph) {
    if (file.startsWith('producers/')) for (const d of deps) assert.not.ok(/^(api|workers|app|cli)\//.test(d), `${file} imports ${d}`);
    if (file.startsWith('lib/')) for (const d of deps) assert.not.ok(/^(producers|api|workers|app|cli)\//.test(d), `${file} imports ${d}`);
  }
});

test('the API and the workers never import each other, nor the composition root', () => {
  for (const [file, deps] of graph) {
    if (file.startsWith('api/')) for (const d of deps) assert.not.ok(/^(workers|app|cli)\//.test(d), `${file} imports ${d}`);
    if (file.startsWith('workers/')) for (const d of deps) assert.not.ok(/^(api|app|cli|producers)\//.test(d), `${file} imports ${d}`);
  }
});

test('only app/ imports both api/ and workers/', () => {
  for (const [file, deps] of graph) {
    if (imports(deps, 'api') && imports(deps, 'workers')) assert.ok(file.startsWith('app/'), `${file} imports both api/ and workers/`);
  }
  assert.ok([...graph.keys()].some((f) => f.startsWith('app/') && imports(graph.get(f)!, 'workers')), 'app/ builds the workers');
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
