// Log events the docs promise against the code: every event name README, docs/ (job
// pages, runbooks, architecture, api.md) and the Prometheus rules tell a reader to look
// for is one the code logs. The code's events are the `event: '…'` fields of its log
// calls, and the names in a table of them (`const EVENT = { outcome: 'alert_…' }`).
// The docs' mentions are read from how they are written: a grep for `"event":"name"`
// (or `"event":"(a|b)"`), "log event `name`", "event `name`", "`name` event(s)",
// "logs `name`", "`name` is logged", "logged as `name`", "logged (`name`".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((n) => {
    const p = posix.join(dir, n);
    return statSync(join(ROOT, p)).isDirectory() ? files(p) : [p];
  });
}

/** Event name → where the code logs it. */
const emitted = (() => {
  const out = new Map<string, string>();
  for (const f of ['lib', 'producers', 'api', 'app', 'workers', 'cli', 'bin'].flatMap(files).filter((f) => /\.(ts|js)$/.test(f))) {
    const text = read(f);
    for (const m of text.matchAll(/\bevent: '([a-z0-9_]+)'/g)) out.set(m[1]!, f);
    for (const table of text.matchAll(/const [A-Z_]*EVENTS?\b[^=]*=\s*\{([^}]*)\}/g)) for (const m of table[1]!.matchAll(/:\s*'([a-z0-9_]+)'/g)) out.set(m[1]!, f);
  }
  return out;
})();

const NAME = '([a-z][a-z0-9]*(?:_[a-z0-9]+)+)';
/** Several names: `a`, `b` and `c`. */
const LIST = '(`[a-z][a-z0-9_]*`(?:,? (?:and |or )?`[a-z][a-z0-9_]*`)*)';
const MENTIONS = [
  new RegExp(`"event":"${NAME}"`, 'g'),
  new RegExp(`[Ll]og event \`?${NAME}\`?`, 'g'),
  new RegExp(`[Ll]og event —? ?${LIST}`, 'g'),
  new RegExp(`\\bevent \`${NAME}\``, 'g'),
  new RegExp(`\`${NAME}\` (?:log )?(?:events?|lines?)\\b`, 'g'),
  new RegExp(`\`${NAME}\` \\((?:trace|debug|info|warn|error|fatal)\\b`, 'g'),
  new RegExp(`\\blogs \`${NAME}\``, 'g'),
  new RegExp(`\`${NAME}\` (?:is |are )?logged`, 'g'),
  new RegExp(`\\blogged (?:as )?\\(?\`${NAME}\``, 'g'),
  new RegExp(`\\(\`${NAME}\` logs\\b`, 'g'),
  new RegExp(`\\b[Ll]ogs\\b[^.]*?look for ${LIST}`, 'g'),
];

/** Event name → the doc files that mention it. */
const mentioned = (() => {
  const out = new Map<string, Set<string>>();
  const docs = ['README.md', ...files('docs').filter((f) => f.endsWith('.md')), 'dashboards/prometheus/rules.yml'];
  for (const f of docs) {
    const text = read(f).replace(/\s+/g, ' ');
    const names = MENTIONS.flatMap((re) => [...text.matchAll(re)].flatMap((m) => (m[1]!.includes('`') ? [...m[1]!.matchAll(/`([a-z0-9_]+)`/g)].map((n) => n[1]!) : [m[1]!])));
    // A grep for several: "event":"(a|b|c)".
    for (const m of text.matchAll(/"event":"\(([a-z0-9_|]+)\)"/g)) names.push(...m[1]!.split('|'));
    for (const n of names) out.set(n, (out.get(n) ?? new Set()).add(f));
  }
  return out;
})();

// Named after a log call's field, not an event: "logged as `request_id` on every line".
const FIELDS = new Set(['request_id']);

test('log events doc: the code logs events, and the docs name them', () => {
  assert.ok(emitted.size >= 30, `events found in the code (${emitted.size})`);
  assert.ok(mentioned.size >= 20, `event names found in the docs (${mentioned.size}: ${[...mentioned.keys()].join(', ')})`);
});

test('log events doc: every event the docs and runbooks name is logged by the code', () => {
  const missing = [...mentioned].filter(([name]) => !emitted.has(name) && !FIELDS.has(name)).map(([name, where]) => `${name} (${[...where].join(', ')})`);
  assert.equal(missing, [], 'named in the docs, logged nowhere');
});

test('log events doc: every event a runbook tells operators to grep for is logged', () => {
  const greps = files('docs/runbooks').flatMap((f) => {
    const text = read(f);
    return [...text.matchAll(/"event":"([a-z0-9_]+)"/g)].map((m) => m[1]!).concat([...text.matchAll(/"event":"\(([a-z0-9_|]+)\)"/g)].flatMap((m) => m[1]!.split('|')));
  });
  assert.ok(greps.length >= 5, `runbook greps found (${greps.length})`);
  for (const name of greps) assert.ok(emitted.has(name), `a runbook greps for "event":"${name}", which nothing logs`);
});

test('log events doc: docs/logs.md\'s table of log events lists every event the code logs, and only those', () => {
  const section = read('docs/logs.md');
  assert.ok(section.includes('| event | level | when |'), 'docs/logs.md has the table of log events');
  const listed = new Set([...section.matchAll(/^\| ([^|]+) \|/gm)].flatMap((row) => [...row[1]!.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!)));
  assert.equal([...emitted.keys()].filter((e) => !listed.has(e)).sort(), [], 'logged by the code, missing from the table');
  assert.equal([...listed].filter((e) => !emitted.has(e)).sort(), [], 'in the table, logged nowhere');
});

test.run();
