// docs/architecture.md's layout block against the tree: every file and folder it names
// exists, and every folder of source under lib/, producers/, api/, app/, workers/ and
// cli/ is named there (one line per folder; files' headers say what they hold). The block is a tree: a line starting at column 0 names a top-level entry
// (`lib/`), one indented by two spaces an entry inside it (`  audit/`, `  config.ts`),
// and deeper-indented lines continue the entry above. A file named in an entry's text
// is looked for in the entry's folder, or in a folder named earlier in the same entry
// (`http/: … (bull-board-errors.ts …)`). A folder named only in the text (`http/`,
// `channels/`) stands for everything in it; an entry's own folder does not: its files
// must each be named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
const SOURCE_DIRS = ['lib', 'producers', 'api', 'app', 'workers', 'cli'];
const FILE = /^[\w.-]*[\w-]\.(ts|lua|js|mjs|sh|py|sql|prisma|json|yml|md)$/;

/** A file's layout block: the first fenced block after its "## Layout". */
function layoutBlock(text: string, file: string): string {
  const start = text.indexOf('\n## Layout');
  assert.ok(start >= 0, `${file} has a "## Layout" section`);
  const open = text.indexOf('```\n', start);
  return text.slice(open + 4, text.indexOf('\n```', open + 4));
}

interface Entry {
  dirs: string[];
  text: string;
}

/** Entries with the folder(s) their names are relative to. */
function entriesOf(block: string): Entry[] {
  const out: Entry[] = [];
  let top: string[] = [''];
  for (const line of block.split('\n')) {
    if (!line.trim()) continue;
    const indent = /^ */.exec(line)![0].length;
    if (indent === 0 || indent === 2) {
      // The entry's own name(s): leading tokens, up to the description's column.
      const headText = line.slice(indent).split(/\s{2,}/)[0]!;
      const folders = headText.split(/\s+/).filter((t) => t.endsWith('/'));
      if (indent === 0) top = folders.length ? folders : [''];
      const dirs = indent === 0 ? top : folders.length ? top.flatMap((t) => folders.map((f) => t + f)) : top;
      // A folder entry's text is what follows its name; a file entry names its files in it.
      out.push({ dirs, text: folders.length ? line.slice(indent + headText.length) : line });
    } else {
      out[out.length - 1]!.text += ` ${line.trim()}`;
    }
  }
  return out;
}

/** Paths in an entry's text: `a/{b,c}.ts` expanded, `x.lua + .ts` as x.ts too, `-batch.ts` after `name.ts` as name-batch.ts. */
function tokens(text: string): string[] {
  const flat = text
    .replace(/\{[^}]*\}/g, (m) => m.replace(/\s+/g, ''))
    .replace(/([\w-]+)\.lua \+ \.ts/g, '$1.lua $1.ts')
    .replace(
      /([\w-]+)\.ts(\s+[^;]*?;\s*)(-[\w-]+\.ts)/g,
      (_m, stem: string, mid: string, suffix: string) => `${stem}.ts${mid}${stem}${suffix}`,
    );
  return flat
    .split(/\s+/)
    .map((t) => t.replace(/^[(`'"]+|[),;:.`'"]+$/g, ''))
    .flatMap((t) => {
      const brace = /^(.*)\{([^}]*)\}(.*)$/.exec(t);
      return brace ? brace[2]!.split(',').map((b) => `${brace[1]}${b}${brace[3]}`) : [t];
    })
    .filter(
      (t) =>
        !t.includes('<') && !t.includes('//') && (t.endsWith('/') || FILE.test(posix.basename(t))) && !/^\.?\//.test(t),
    );
}

/** What a layout block names: each path, and whether it is a folder named inside an entry's text. */
function namesOf(block: string): Array<{ path: string; entry: string; described: boolean }> {
  const found: Array<{ path: string; entry: string; described: boolean }> = [];
  for (const { dirs, text } of entriesOf(block)) {
    const seenFolders: string[] = [];
    for (const t of tokens(text)) {
      // dist/ is the build's output (gitignored), named as such.
      if (t.startsWith('dist/')) continue;
      const candidates = [...dirs, ...seenFolders, ''].map((d) => posix.join(d, t));
      const hit = candidates.find((c) => existsSync(join(ROOT, c)));
      found.push({ path: hit ?? candidates[0]!, entry: text.trim().slice(0, 40), described: t.endsWith('/') });
      // Later names of the entry may be relative to a folder it named (`http/`), or to a
      // named file's folder (`prometheus/rules.yml + rules.test.yml`).
      if (hit) seenFolders.push(t.endsWith('/') ? hit : posix.dirname(hit));
    }
    for (const d of dirs) if (d) found.push({ path: d, entry: d, described: false });
  }
  return found;
}
const named = namesOf(layoutBlock(doc, 'docs/architecture.md'));

test('architecture doc: every file and folder the layout block names exists', () => {
  assert.ok(named.length > 40, `the layout block names folders and files (${named.length})`);
  const missing = named.filter((n) => !existsSync(join(ROOT, n.path)));
  assert.equal(
    missing.map((m) => `${m.path} (in "${m.entry}…")`),
    [],
    'named in docs/architecture.md but not in the tree',
  );
});

/** A folder and every folder inside it. */
function folders(dir: string): string[] {
  return [
    dir,
    ...readdirSync(join(ROOT, dir)).flatMap((n) =>
      statSync(join(ROOT, dir, n)).isDirectory() ? folders(posix.join(dir, n)) : [],
    ),
  ];
}

test('architecture doc: every folder under lib/, producers/, api/, app/, workers/ and cli/ is named in the layout block', () => {
  const paths = new Set(named.map((n) => n.path.replace(/\/$/, '')));
  const unnamed = SOURCE_DIRS.flatMap(folders).filter((d) => !paths.has(d));
  assert.equal(unnamed, [], 'in the tree but not in docs/architecture.md');
});

test('architecture doc: the test/ line lists every integration folder, the docs/ line every page of docs/', () => {
  const block = layoutBlock(doc, 'docs/architecture.md');
  const entry = (top: string) => entriesOf(block).find((e) => e.dirs.includes(top))!.text;
  const areas = /one folder per area: ([^)]*)\)/.exec(entry('test/'))?.[1]?.split(/,\s*/);
  const dirsOf = (dir: string) =>
    readdirSync(join(ROOT, dir)).filter((n) => statSync(join(ROOT, dir, n)).isDirectory());
  assert.equal(areas?.sort(), dirsOf('test/integration').sort(), 'test/integration folders');
  const pages = readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md') && n !== 'architecture.md');
  const docs = entry('docs/');
  assert.equal(
    pages.filter((p) => !docs.includes(p)),
    [],
    'docs/ pages the layout block does not name',
  );
});

test("architecture doc: every file and folder docs/development.md's layout block names exists", () => {
  const devNamed = namesOf(layoutBlock(readFileSync(join(ROOT, 'docs/development.md'), 'utf8'), 'docs/development.md'));
  assert.ok(devNamed.length > 15, `docs/development.md's layout names files (${devNamed.length})`);
  const missing = devNamed.filter((n) => !existsSync(join(ROOT, n.path)));
  assert.equal(
    missing.map((m) => `${m.path} (in "${m.entry}…")`),
    [],
    "named in docs/development.md's layout but not in the tree",
  );
});

test.run();
