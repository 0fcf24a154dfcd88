// The label values docs/metrics.md's table lists, and the ones dashboards/ match on,
// against a scrape of a freshly started Bulwark: the queue gauges' queues and states,
// the readiness checks, the lost-job kinds, and every `label="value"` of a rule or a
// panel is a series the process reports (the series rules count on exist at 0 from
// the start, as rules.yml says of bulwark_jobs_failed_total).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { ALL_QUEUES } from '../../helpers/queues.js';

const read = (p: string) => readFileSync(new URL(`../../../${p}`, import.meta.url), 'utf8');
const doc = read('docs/metrics.md');

/** docs/metrics.md's row of `name`: its labels cell and its meaning. */
function row(name: string): { labels: string; meaning: string } {
  const m = new RegExp(`^\\| \`${name}\` \\| [a-z]+ \\| ([^|]*) \\| (.*) \\|$`, 'm').exec(doc);
  assert.ok(m, `docs/metrics.md's table has a row for ${name}`);
  return { labels: m![1]!, meaning: m![2]! };
}

/** The backticked values in the first parentheses after `after` (`queue` (`a`, `b`), "per queue (`a`, `b`)"). */
function listed(text: string, after: string): string[] {
  const at = text.indexOf(after);
  assert.ok(at >= 0, `"${after}" in "${text}"`);
  const open = text.indexOf('(', at);
  return [...text.slice(open, text.indexOf(')', open)).matchAll(/`([^`]+)`/g)].map((m) => m[1]!).sort();
}

let api: ApiHarness;
/** metric name → its series' label sets (and values), from one scrape. */
const series = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();

test.before(async () => {
  api = await startApi();
  const res = await fetch(`${api.url}/metrics`);
  assert.is(res.status, 200);
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-z_]+)="((?:\\.|[^"\\])*)"/g)].map((l) => [l[1]!, l[2]!]),
    );
    series.set(m[1]!, [...(series.get(m[1]!) ?? []), { labels, value: Number(m[3]) }]);
  }
});
test.after(async () => api?.close());

const values = (metric: string, label: string) =>
  [
    ...new Set((series.get(metric) ?? []).map((s) => s.labels[label]).filter((v): v is string => v !== undefined)),
  ].sort();

test('metrics scrape doc: the queues, states and readiness checks docs/metrics.md lists are the ones reported', () => {
  const queueJobs = row('bulwark_queue_jobs');
  assert.equal(values('bulwark_queue_jobs', 'queue'), listed(queueJobs.meaning, 'Jobs per queue'));
  assert.equal(values('bulwark_queue_jobs', 'state'), listed(queueJobs.meaning, 'by state'));
  assert.equal(values('bulwark_queue_paused', 'queue'), listed(queueJobs.meaning, 'Jobs per queue'));
  assert.equal(values('bulwark_ready', 'check'), listed(row('bulwark_ready').meaning, 'check passes'));
  assert.equal(
    values('bulwark_alert_delivery_jobs_lost_total', 'kind'),
    listed(row('bulwark_alert_delivery_jobs_lost_total').labels, '`kind`'),
  );
  // Jobs are counted per queue for every queue a worker takes.
  assert.equal(values('bulwark_jobs_completed_total', 'queue'), listed(queueJobs.meaning, 'Jobs per queue'));
  assert.equal(values('bulwark_jobs_failed_total', 'final'), ['false', 'true']);
});

test('every queue of the worker registry has its bulwark_queue_jobs and bulwark_queue_paused gauges', () => {
  assert.equal(values('bulwark_queue_jobs', 'queue'), [...ALL_QUEUES].sort());
  assert.equal(values('bulwark_queue_paused', 'queue'), [...ALL_QUEUES].sort());
});

test("the registry's gauges hooks are wired: stuck alerts and restore drills are reported", () => {
  for (const metric of ['bulwark_alerts_stuck', 'bulwark_restore_drill_last_run_timestamp_seconds'])
    assert.ok((series.get(metric) ?? []).length > 0, `${metric} has a series`);
});

test('metrics scrape doc: every failure reason the process reports is in the AlertDeliveriesFailing runbook', () => {
  const runbook = read('docs/runbooks/alert-deliveries-failing.md');
  const table = [...runbook.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
  const reported = [
    ...new Set(
      (series.get('bulwark_alerts_total') ?? [])
        .filter((s) => s.labels.outcome === 'failed')
        .map((s) => s.labels.reason!),
    ),
  ];
  assert.ok(reported.length >= 3, reported.join(', '));
  for (const reason of reported)
    assert.ok(table.includes(reason), `reason ${reason} is not in the runbook's table (${table.join(', ')})`);
  // And the other way: every reason the runbook explains exists from the start, so its
  // first failure is an increase (AlertDeliveriesFailing counts increases).
  for (const reason of table)
    assert.ok(
      reported.includes(reason),
      `reason ${reason} of the runbook is not reported at 0 from the start (${reported.join(', ')})`,
    );
});

test('metrics scrape doc: the verify gauges are 0 until a verification ran in this process', () => {
  assert.equal(
    series.get('bulwark_audit_verify_last_run_timestamp_seconds')?.map((s) => s.value),
    [0],
  );
});

test('metrics scrape doc: every label value a rule or panel matches on is a series the process reports from the start', () => {
  const exprs = [
    ...[
      ...read('dashboards/prometheus/rules.yml').matchAll(/^\s+expr: (?:>-)?([\s\S]*?)(?=\n\s+(?:for|labels):)/gm),
    ].map((m) => m[1]!),
    ...['bulwark.json', 'backups.json'].flatMap((f) =>
      [...read(`dashboards/grafana/${f}`).matchAll(/"(?:expr|query|definition)": "((?:\\.|[^"\\])*)"/g)].map(
        (m) => JSON.parse(`"${m[1]}"`) as string,
      ),
    ),
  ];
  assert.ok(exprs.length >= 20, `expressions found (${exprs.length})`);
  let checked = 0;
  for (const expr of exprs) {
    for (const [, name, matchers] of expr.matchAll(/\b(bulwark_[a-z0-9_]+)\{([^}]*)\}/g)) {
      const metric = name!.replace(/_(bucket|sum|count)$/, '');
      for (const [, label, op, value] of matchers!.matchAll(/([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
        if (value!.includes('$') || label === 'job' || label === 'instance') continue;
        // A regex matcher's alternatives are each a value.
        for (const v of op!.includes('~') ? value!.split('|') : [value!]) {
          assert.ok(
            values(metric, label!).includes(v),
            `${name}{${label}${op}"${value}"}: the process reports ${label} values ${values(metric, label!).join(', ') || 'none'} (${expr.trim()})`,
          );
          checked++;
        }
      }
    }
  }
  assert.ok(checked >= 8, `label matchers checked (${checked})`);
});

test.run();
