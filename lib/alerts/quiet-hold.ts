/**
 * Whether quiet hours hold back an alert, or a group's alerts, at a moment. The
 * decision (decide.ts) asks when an alert arrives; a group's flush
 * (workers/alert/jobs/group-flush.ts) asks again when its alerts are about to be sent,
 * because a group opened just before quiet hours is flushed after its wait, possibly
 * inside them. One rule for both, so the two never disagree on who bypasses.
 */
import { SEVERITIES, type AlertSeverity, type QuietHoursPolicy } from './decision-input.js';
import { quietWindow } from './quiet-hours.js';

/** Quiet hours hold the alerts: `defer` them until `until` (the window's end), or `drop` them. */
export interface QuietHold {
  mode: 'defer' | 'drop';
  until: Date;
}

export function isSeverity(value: string): value is AlertSeverity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** The bypass severity and everything above it ignore quiet hours (default: critical). */
export function bypassesQuietHours(q: Pick<QuietHoursPolicy, 'bypassSeverity'>, severity: AlertSeverity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(q.bypassSeverity ?? 'critical');
}

/** What quiet hours do at `now` to alerts whose highest severity is `severity`; undefined: nothing. */
export function quietHoldAt(now: Date, q: QuietHoursPolicy | undefined, severity: AlertSeverity): QuietHold | undefined {
  if (!q || bypassesQuietHours(q, severity)) return undefined;
  const window = quietWindow(now, q);
  if (!window.inQuiet || !window.endsAt) return undefined;
  return { mode: q.mode ?? 'defer', until: window.endsAt };
}
