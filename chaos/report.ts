/** The one table the harness prints, and the reasons under it. */
import type { Outcome } from './run.js';

const HEAD = [
  'scenario',
  'offered',
  'acked',
  'stored',
  'dup',
  'lost',
  'refused-but-stored',
  'chain',
  'recover s',
  'worst ms',
  'peak RSS MB',
  'result',
];

function row(o: Outcome): string[] {
  const l = o.ledger;
  return [
    o.name,
    String(l.offered),
    String(l.acknowledged),
    String(l.stored),
    String(l.duplicated),
    String(l.lost),
    String(l.refusedStored),
    o.chainOk ? 'verified' : 'BROKEN',
    o.recoverS === undefined ? 'never' : o.recoverS.toFixed(1),
    String(Math.round(o.worstMs)),
    o.peakRssMb.toFixed(0),
    o.failures.length ? 'FAIL' : 'pass',
  ];
}

/** A Markdown table (readable as is, pasteable into docs/reliability.md). */
export function table(outcomes: readonly Outcome[]): string {
  const rows = [HEAD, ...outcomes.map(row)];
  const widths = HEAD.map((_h, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

export function details(outcomes: readonly Outcome[]): string {
  const out: string[] = [];
  for (const o of outcomes) {
    const answers = [...o.statuses].map(([s, n]) => `${s}×${n}`).join(' ');
    out.push(
      `- ${o.name}: ${o.requests} requests (${answers})${o.skipped ? `, ${o.skipped} not sent (too many in flight)` : ''}`,
    );
    for (const n of o.notes) out.push(`    note: ${n}`);
    for (const f of o.failures) out.push(`    FAIL: ${f}`);
  }
  return out.join('\n');
}
