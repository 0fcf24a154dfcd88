/** The message one delivery sends: one alert, a group or a digest. */
import { ALERT_SEVERITIES } from '../../../lib/contracts/alert.js';
import type { DeliverJob } from '../../../lib/contracts/alert-delivery.js';
import type { AlertMessage } from './channels/types.js';

/** What a message is built from: a ledger row, or the alert itself on the inline path. */
export interface MessageRow {
  id: string;
  type: string;
  title: string;
  body: string | null;
  labels: unknown;
  runbookUrl: string | null;
  severity: string;
  groupKey: string;
  occurredAt: Date;
}

/** The most severe of some alert severities (ALERT_SEVERITIES runs from least to most). */
export function highestSeverity(severities: string[]): string {
  const rank = (s: string) => (ALERT_SEVERITIES as readonly string[]).indexOf(s);
  return severities.reduce((s, x) => (rank(x) > rank(s) ? x : s), severities[0]!);
}

/**
 * Labels as a string map sorted by name: JSONB reorders keys, and a message must not
 * depend on whether the alert came from the job (inline send) or its row (queued send).
 */
function sortedLabels(labels: unknown): Record<string, string> {
  if (!labels || typeof labels !== 'object' || Array.isArray(labels)) return {};
  const entries = Object.entries(labels as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, String(v)]));
}

const labelText = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ');

export function messageFor(tenantId: string, kind: DeliverJob['kind'], rows: MessageRow[]): AlertMessage {
  const first = rows[0]!;
  const severity = highestSeverity(rows.map((r) => r.severity));
  // Every alert of the message as data, one alert's included, so a receiver need not
  // parse the text for a type, a severity or a label.
  const items = rows.map((r) => ({ id: r.id, type: r.type, severity: r.severity, title: r.title, occurredAt: r.occurredAt.toISOString(), labels: sortedLabels(r.labels), runbookUrl: r.runbookUrl }));
  if (kind === 'single') {
    const labels = labelText(items[0]!.labels);
    return { tenantId, alertIds: [first.id], title: first.title, text: [first.body, labels && `labels: ${labels}`].filter(Boolean).join('\n'), severity, runbookUrl: first.runbookUrl ?? undefined, items };
  }
  const title = kind === 'group' ? `${rows.length} alerts: ${first.groupKey}` : `Digest: ${rows.length} alerts held during quiet hours`;
  const runbookUrl = rows.find((r) => r.runbookUrl)?.runbookUrl ?? undefined;
  // The message's link is one alert's: a digest mixes types, and each alert's own
  // runbook must reach the reader too, so a line names it where it is another.
  const line = (i: (typeof items)[number]) => `• ${i.title} (${i.occurredAt})${i.runbookUrl && i.runbookUrl !== runbookUrl ? ` runbook: ${i.runbookUrl}` : ''}`;
  return { tenantId, alertIds: rows.map((r) => r.id), title, text: items.map(line).join('\n'), severity, runbookUrl, items };
}
