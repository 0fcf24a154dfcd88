// Every runbook an alert links to exists: the pages named by the Prometheus rules'
// runbook_url annotations and by lib/runbooks.ts (alerts Bulwark raises itself), each
// listed in docs/runbooks/README.md, and no page there that nothing links to.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { SELF_RAISED_RUNBOOK_PAGES, runbookPageFor, runbookUrlFor } from '../../lib/runbooks.js';

const root = new URL('../../', import.meta.url);
const runbooks = new URL('docs/runbooks/', root);
const rules = readFileSync(new URL('dashboards/prometheus/rules.yml', root), 'utf8');
const index = readFileSync(new URL('README.md', runbooks), 'utf8');

/** File names (with .md) the rules link to, as "docs/runbooks/<page>.md". */
const rulePages = [...rules.matchAll(/runbook_url:\s*"?docs\/runbooks\/([^"\s]+)"?/g)].map((m) => m[1]!);
const codePages = SELF_RAISED_RUNBOOK_PAGES.map((p) => `${p}.md`);

test('runbooks: every alert rule has a runbook_url, and each names a page that exists', () => {
  const alerts = [...rules.matchAll(/^\s*- alert:\s*(\S+)/gm)].length;
  assert.ok(alerts > 0, 'rules.yml has alerts');
  assert.is(rulePages.length, alerts, 'one runbook_url per alert rule');
  for (const page of rulePages)
    assert.ok(existsSync(new URL(page, runbooks)), `docs/runbooks/${page} is missing (named by rules.yml)`);
});

test('runbooks: every page named by code (self-raised alerts) exists', () => {
  assert.ok(codePages.length >= 2);
  for (const page of codePages)
    assert.ok(existsSync(new URL(page, runbooks)), `docs/runbooks/${page} is missing (named by lib/runbooks.ts)`);
  assert.is(runbookPageFor('security:api-key-denial-burst'), 'security-api-key-denial-burst');
  assert.is(runbookPageFor('security:auth-failed'), 'security-event');
});

test('runbooks: the index lists every page, and every page is linked from a rule or code', () => {
  const files = readdirSync(runbooks).filter((f) => f.endsWith('.md') && f !== 'README.md');
  const linked = new Set([...rulePages, ...codePages]);
  for (const f of files) {
    assert.match(index, `](${f})`, `docs/runbooks/README.md does not list ${f}`);
    assert.ok(linked.has(f), `${f} is linked from no rule and no code`);
  }
});

test('runbooks: each page says what it means, how to confirm or check, and what to do', () => {
  for (const page of codePages) {
    const text = readFileSync(new URL(page, runbooks), 'utf8');
    for (const section of ['## What it means', '## Confirm', '## What to do', '## How to close'])
      assert.match(text, section, `${page} lacks "${section}"`);
  }
});

test('runbooks: a link is the base URL plus the page, and none without a base', () => {
  assert.is(
    runbookUrlFor('https://docs.example.com/runbooks/', 'security:x'),
    'https://docs.example.com/runbooks/security-event.md',
  );
  assert.is(runbookUrlFor(undefined, 'security:api-key-denial-burst'), undefined);
});

test.run();
