// docs/metrics.md's table against the registry Bulwark builds (createMetrics, the one
// app/main.ts uses; building it connects nothing): every registered metric is in
// the table with its type and labels, every row names a registered metric, and every
// metric name the docs and dashboards/ mention (Prometheus rules, their tests, the
// Grafana dashboard) exists, with the label names their expressions use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '../../lib/metrics.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const doc = read('docs/metrics.md');

interface Registered {
  type: string;
  labels: string[];
}
const registered = new Map<string, Registered>(
  createMetrics()
    .registry.getMetricsAsArray()
    .map((m) => {
      const metric = m as unknown as { name: string; type: string; labelNames?: string[] };
      return [metric.name, { type: metric.type, labels: [...(metric.labelNames ?? [])].sort() }];
    }),
);

/** The rows of docs/metrics.md's table: name (or wildcard) → type and label names. */
const rows = (() => {
  const section = doc;
  const out: Array<{ names: string[]; type: string; labels: string[] }> = [];
  for (const line of section.split('\n')) {
    const m = /^\| (`bulwark_[^|]+) \| ?([a-z]*) ?\| ?([^|]*) \| .* \|$/.exec(line);
    if (!m) continue;
    const names = [...m[1]!.matchAll(/`(bulwark_[a-z0-9_*]+)`/g)].map((n) => n[1]!);
    // A label's documented values follow it in parentheses: `result` (`ok`, `broken`).
    const labels = [...m[3]!.replace(/\([^)]*\)/g, '').matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!).sort();
    out.push({ names, type: m[2]!, labels });
  }
  assert.ok(out.length >= 10, `the metrics table has its rows (found ${out.length})`);
  return out;
})();

const wildcard = (name: string) => new RegExp(`^${name.replace(/\*/g, '[a-z0-9_]*')}$`);
const exact = rows.filter((r) => !r.names.some((n) => n.includes('*')));
const wildcards = rows.filter((r) => r.names.some((n) => n.includes('*'))).flatMap((r) => r.names);

test('metrics doc: every row of the docs/metrics.md table is a registered metric of that type with those labels', () => {
  for (const row of exact) {
    for (const name of row.names) {
      const m = registered.get(name);
      assert.ok(m, `docs/metrics.md documents ${name}, which lib/metrics.ts does not register`);
      assert.is(row.type, m!.type, `${name}: docs/metrics.md says ${row.type}, registered as ${m!.type}`);
      assert.equal(row.labels, m!.labels, `${name}: docs/metrics.md's labels against the registered ones`);
    }
  }
  for (const w of wildcards)
    assert.ok(
      [...registered.keys()].some((n) => wildcard(w).test(n)),
      `docs/metrics.md's ${w} matches no registered metric`,
    );
});

test('metrics doc: every registered metric is in the docs/metrics.md table (default process metrics by their wildcard rows)', () => {
  const documented = new Set(exact.flatMap((r) => r.names));
  for (const name of registered.keys()) {
    assert.ok(
      documented.has(name) || wildcards.some((w) => wildcard(w).test(name)),
      `${name} is registered but not in docs/metrics.md's table`,
    );
  }
  // docs/metrics.md says the three *_total gauges of the default metrics are removed.
  assert.equal(
    [...registered.keys()].filter((n) => /^bulwark_nodejs_active_[a-z]+_total$/.test(n)),
    [],
  );
  assert.ok(
    registered.has('bulwark_nodejs_active_handles'),
    'docs/metrics.md points at bulwark_nodejs_active_handles instead',
  );
});

/** A name as written in an expression or a doc: a metric, or one series of a histogram. */
function metricOf(name: string): string | undefined {
  if (registered.has(name)) return name;
  const base = /^(.+)_(bucket|sum|count)$/.exec(name)?.[1];
  return base && registered.get(base)?.type === 'histogram' ? base : undefined;
}

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((n) => {
    const p = join(dir, n);
    return statSync(join(ROOT, p)).isDirectory() ? files(p) : [p];
  });
}

/** Log events (`event: '…'` in the code, or a table of them) share the bulwark_ prefix with metrics. */
const logEvents = new Set(
  files('lib')
    .concat(files('producers'), files('api'), files('app'), files('workers'), files('cli'))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...read(f).matchAll(/\bevent: '([a-z0-9_]+)'/g)].map((m) => m[1]!)),
);

test('metrics doc: every bulwark_ metric named in README, docs/ and dashboards/ exists', () => {
  const sources = ['README.md', ...files('docs').filter((f) => f.endsWith('.md')), ...files('dashboards')];
  let checked = 0;
  for (const file of sources) {
    for (const [, name] of read(file).matchAll(/\b(bulwark_[a-z0-9_*]+)/g)) {
      if (name!.includes('*')) {
        // Wildcards: `bulwark_*` (every name), the default metrics' families, and the
        // removed `bulwark_nodejs_active_*_total` gauges (checked absent above).
        if (name === 'bulwark_*' || name === 'bulwark_nodejs_active_*_total') continue;
        assert.ok(
          [...registered.keys()].some((n) => wildcard(name!).test(n)),
          `${file}: ${name} matches no registered metric`,
        );
        continue;
      }
      if (logEvents.has(name!)) continue;
      assert.ok(
        metricOf(name!),
        `${file} names ${name}, which is neither a registered metric (or histogram series) nor a log event`,
      );
      checked++;
    }
  }
  assert.ok(checked > 50, `metric names were found (${checked})`);
});

/** PromQL expressions of the rules file, the rule tests' series and the Grafana panels and variables. */
function expressions(): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const rules = read('dashboards/prometheus/rules.yml');
  // `expr: >-` blocks run until the next key at the rule's indentation.
  for (const m of rules.matchAll(/^( +)expr: (>-\n((?:\1 +.*\n)+)|(.*)\n)/gm))
    out.push({ where: 'rules.yml', expr: (m[3] ?? m[4]!).replace(/\s+/g, ' ') });
  for (const file of ['rules.test.yml', 'rules-backup.test.yml', 'rules-checkpoints.test.yml'])
    for (const m of read(`dashboards/prometheus/${file}`).matchAll(/series: '([^']+)'/g))
      out.push({ where: file, expr: m[1]! });
  // Every dashboard: bulwark.json (overview) and backups.json (backups and drills).
  for (const file of readdirSync(join(ROOT, 'dashboards/grafana')).filter((f) => f.endsWith('.json'))) {
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (typeof v !== 'object' || v === null) return;
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'expr' || k === 'query' || k === 'definition') && typeof x === 'string')
          out.push({ where: file, expr: x });
        else walk(x);
      }
    };
    walk(JSON.parse(read(`dashboards/grafana/${file}`)));
  }
  return out;
}

// Labels Prometheus adds to every scraped series, and a histogram bucket's bound.
const TARGET_LABELS = new Set(['job', 'instance']);

test('metrics doc: dashboards/ expressions name existing metrics, and only labels those metrics have', () => {
  const exprs = expressions();
  assert.ok(exprs.filter((e) => e.where === 'rules.yml').length >= 10, 'every rule expression was found');
  assert.ok(exprs.filter((e) => e.where === 'bulwark.json').length >= 10, 'the dashboard panels were found');
  assert.ok(exprs.filter((e) => e.where === 'backups.json').length >= 6, 'the backup dashboard panels were found');
  for (const { where, expr } of exprs) {
    const used = [...expr.matchAll(/\b(bulwark_[a-z0-9_]+)(\{[^}]*\})?/g)];
    for (const [, name, matchers] of used) {
      const metric = metricOf(name!);
      assert.ok(metric, `${where}: ${name} is not a registered metric (${expr})`);
      const labels = new Set([
        ...registered.get(metric!)!.labels,
        ...TARGET_LABELS,
        ...(name !== metric && name!.endsWith('_bucket') ? ['le'] : []),
      ]);
      for (const [, label] of (matchers ?? '').matchAll(/([a-z_]+)\s*(?:=|!=|=~|!~)\s*"/g)) {
        assert.ok(labels.has(label!), `${where}: ${name} has no label ${label} (${expr})`);
      }
    }
    // Grouping labels (by/without, and label_values' second argument) must exist on
    // some metric of the expression.
    const names = used.map((u) => metricOf(u[1]!)).filter((n): n is string => !!n);
    if (!names.length) continue;
    const all = new Set([...TARGET_LABELS, 'le', ...names.flatMap((n) => registered.get(n)!.labels)]);
    const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((g) =>
      g[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const lv = /label_values\(\s*bulwark_[a-z0-9_]+\s*,\s*([a-z_]+)\s*\)/.exec(expr)?.[1];
    for (const label of [...grouping, ...(lv ? [lv] : [])])
      assert.ok(all.has(label), `${where}: no metric of "${expr}" has the label ${label}`);
  }
});

test('metrics doc: docs/metrics.md lists the alert rules rules.yml defines, no more, no fewer', () => {
  const defined = [...read('dashboards/prometheus/rules.yml').matchAll(/^\s*- alert:\s*(\S+)/gm)]
    .map((m) => m[1]!)
    .sort();
  const at = doc.indexOf('Alert rules: [dashboards/prometheus/rules.yml]');
  assert.ok(at >= 0, 'docs/metrics.md names the rules file');
  const listed = [...doc.slice(at, doc.indexOf(')', doc.indexOf('(`', at))).matchAll(/`([A-Za-z]+)`/g)]
    .map((m) => m[1]!)
    .sort();
  assert.ok(defined.length >= 10);
  assert.equal(listed, defined);
});

test.run();
