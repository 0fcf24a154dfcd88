// docs/going-to-production.md against the code and the tree: every UPPER_CASE variable
// it names is one loadConfig reads (CONFIG_VARIABLES), every secret variable is named,
// every relative link leads to a file that exists (and, for a link with #anchor into a
// Markdown page, to one of its headings as GitHub slugs them), every Prometheus rule
// is named, and README and architecture.md link to the page.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES, SECRET_VARIABLES } from '../../lib/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = 'docs/going-to-production.md';
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const page = read(PAGE);

/** Names like SHUTDOWN_TIMEOUT_MS: capitals and digits with at least one underscore (not a file name such as DATA_MANAGEMENT.md). */
const variables = [...new Set([...page.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b(?!\.md)/g)].map((m) => m[0]))];

/** GitHub's anchor for each heading of a Markdown text (fenced blocks left out; repeats get -1, -2, …). */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = markdown.replace(/^```[\s\S]*?^```/gm, '');
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Relative links of the page (outside fenced blocks): [text](target). */
const links = [...page.replace(/^```[\s\S]*?^```/gm, '').matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)]
  .map((m) => m[1]!)
  .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));

test('going-to-production doc: the checks have something to check', () => {
  assert.ok(variables.length >= 20, `variables named (${variables.length})`);
  assert.ok(links.length >= 20, `relative links (${links.length})`);
});

test('going-to-production doc: every UPPER_CASE variable it names is read by loadConfig', () => {
  const known = new Set(CONFIG_VARIABLES);
  assert.equal(variables.filter((v) => !known.has(v)), [], 'named in the page, not in CONFIG_VARIABLES (lib/config.ts)');
});

test('going-to-production doc: every secret variable is in the checklist', () => {
  assert.equal(SECRET_VARIABLES.filter((v) => !variables.includes(v)), [], 'secret variables the page does not name');
});

test('going-to-production doc: every relative link resolves, anchors included', () => {
  const broken: string[] = [];
  for (const link of links) {
    const [path, anchor] = link.split('#') as [string, string | undefined];
    const target = path ? posix.normalize(posix.join(dirname(PAGE), path)) : PAGE;
    if (!existsSync(join(ROOT, target))) {
      broken.push(`${link}: no file ${target}`);
      continue;
    }
    if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(read(target)).has(anchor)) {
      broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
  }
  assert.equal(broken, [], 'broken links in the page');
});

test('going-to-production doc: every Prometheus rule is named in Monitoring', () => {
  const rules = [...read('dashboards/prometheus/rules.yml').matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]!);
  assert.ok(rules.length >= 5, `rules found (${rules.length})`);
  assert.equal(rules.filter((r) => !page.includes(`\`${r}\``)), [], 'rules the page does not name');
});

test('going-to-production doc: README and architecture.md link to it', () => {
  assert.ok(read('README.md').includes('](docs/going-to-production.md)'), 'README links docs/going-to-production.md');
  assert.ok(read('docs/architecture.md').includes('going-to-production.md'), 'architecture.md names going-to-production.md');
});

test('going-to-production doc: the anchor slugs follow GitHub', () => {
  // The rules the link check relies on, on headings of the kinds the docs use.
  const anchors = anchorsOf('# A\n## Webhook alerts (outgoing)\n## `bulwark audit verify [--tenant ID]`\n```\n# not a heading\n```\n## What `live` changes\n## A\n');
  assert.equal([...anchors], ['a', 'webhook-alerts-outgoing', 'bulwark-audit-verify---tenant-id', 'what-live-changes', 'a-1']);
});

test.run();
