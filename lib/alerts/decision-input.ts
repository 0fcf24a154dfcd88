/**
 * What a decision is asked about: the alert's fields and the tenant's policy, and the
 * check of both before anything reaches Redis (a ValidationError naming each bad field).
 */
import { ValidationError, type FieldProblem } from '../errors.js';
import { assertTimeZone, type QuietHours } from './quiet-hours.js';

/** In rising order: a bypass severity lets through itself and everything above it. */
export const SEVERITIES = ['info', 'warning', 'high', 'critical'] as const;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const TENANT = /^[A-Za-z0-9_.-]{1,128}$/;

export type AlertSeverity = (typeof SEVERITIES)[number];

export interface AlertDecisionInput {
  tenantId: string;
  /** Unique per alert: the sliding-log member, and the group id when it opens a group. */
  alertId: string;
  type: string;
  severity: AlertSeverity;
  /** Alerts with the same key within groupWaitMs go out together. Default: `type`. */
  groupKey?: string;
  /** The user whose action raised the alert; enables the per-user throttle. Default: none. */
  userId?: string;
  /** Same key within dedupeTtlMs → suppressed as 'duplicate', e.g. the source audit event id. Default: none. */
  dedupeKey?: string;
}

export interface QuietHoursPolicy extends QuietHours {
  /** Severities at or above this one are not held by quiet hours. Default: 'critical'. */
  bypassSeverity?: Exclude<AlertSeverity, 'info'>;
  /** What happens to alerts inside quiet hours. Default: 'defer' (until the window ends). */
  mode?: 'defer' | 'drop';
}

export interface AlertPolicy {
  /** Most alerts admitted per tenant per sliding window (critical ones are counted, never refused). */
  maxPerWindow: number;
  /** Length of the tenant window, ms. */
  windowMs: number;
  /** Least time between two admitted alerts of one type, ms; 0 = no cooldown. */
  cooldownMs: number;
  /** How long a group stays open for more alerts with its key, ms. Default: 0 (no grouping). */
  groupWaitMs?: number;
  /** Most alerts one user may raise per userWindowMs. Default: 0 (no per-user throttle). */
  userLimit?: number;
  /** Length of the per-user window, ms. Default: 60 000. */
  userWindowMs?: number;
  /** Quiet hours. Default: none. */
  quietHours?: QuietHoursPolicy;
}

function check(problems: FieldProblem[], path: string, ok: boolean, message: string): void {
  if (!ok) problems.push({ path, message });
}
export const isText = (v: unknown, max: number): boolean => typeof v === 'string' && v.length >= 1 && v.length <= max;
export const isInt = (v: unknown, min: number): boolean => Number.isSafeInteger(v) && (v as number) >= min;

export function validateDecisionInput(input: AlertDecisionInput, policy: AlertPolicy): void {
  const p: FieldProblem[] = [];
  check(
    p,
    'tenantId',
    typeof input.tenantId === 'string' && TENANT.test(input.tenantId),
    'must be 1-128 letters, digits, ".", "_" or "-"',
  );
  check(p, 'alertId', isText(input.alertId, 128), 'must be a string of 1-128 characters');
  check(p, 'type', isText(input.type, 100), 'must be a string of 1-100 characters');
  check(
    p,
    'severity',
    (SEVERITIES as readonly unknown[]).includes(input.severity),
    `must be one of ${SEVERITIES.join(', ')}`,
  );
  for (const f of ['groupKey', 'userId', 'dedupeKey'] as const) {
    if (input[f] !== undefined) check(p, f, isText(input[f], 256), 'must be a string of 1-256 characters when given');
  }
  check(p, 'policy.maxPerWindow', isInt(policy.maxPerWindow, 1), 'must be a whole number >= 1');
  check(p, 'policy.windowMs', isInt(policy.windowMs, 1), 'must be a whole number >= 1');
  check(p, 'policy.cooldownMs', isInt(policy.cooldownMs, 0), 'must be a whole number >= 0');
  check(p, 'policy.groupWaitMs', isInt(policy.groupWaitMs ?? 0, 0), 'must be a whole number >= 0');
  check(p, 'policy.userLimit', isInt(policy.userLimit ?? 0, 0), 'must be a whole number >= 0');
  check(p, 'policy.userWindowMs', isInt(policy.userWindowMs ?? 60_000, 1), 'must be a whole number >= 1');
  const q = policy.quietHours;
  if (q) {
    check(p, 'policy.quietHours.start', typeof q.start === 'string' && HHMM.test(q.start), 'must be HH:MM');
    check(p, 'policy.quietHours.end', typeof q.end === 'string' && HHMM.test(q.end), 'must be HH:MM');
    let zoneOk = true;
    try {
      assertTimeZone(q.timezone);
    } catch {
      zoneOk = false;
    }
    check(p, 'policy.quietHours.timezone', zoneOk, 'must be an IANA time zone');
    check(
      p,
      'policy.quietHours.bypassSeverity',
      q.bypassSeverity === undefined || SEVERITIES.slice(1).includes(q.bypassSeverity),
      'must be warning, high or critical',
    );
    check(
      p,
      'policy.quietHours.mode',
      q.mode === undefined || q.mode === 'defer' || q.mode === 'drop',
      'must be defer or drop',
    );
  }
  if (p.length > 0) throw new ValidationError('alert decision', p);
}
