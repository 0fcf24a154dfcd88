/**
 * The queues whose tenant jobs go through the fair dispatcher (docs/decisions/0010), and
 * for each: the tenant settings that limit it, what one job costs, the quantum (the cost
 * a tenant may send per turn of the round robin) and the default window (cost released
 * to the workers and not finished, across every process).
 */
import { ALERT_QUEUE } from '../contracts/alert.js';
import { AUDIT_MAX_ENTRIES_PER_JOB, AUDIT_WRITE_QUEUE } from '../contracts/audit.js';
import { RETENTION_QUEUE } from '../contracts/retention.js';
import { defaultTenantSettings, type TenantSettings } from '../tenants/settings.js';

export type FairSetting = keyof TenantSettings['jobs'];

export interface FairKind {
  queue: string;
  /** The tenant settings key under `jobs` holding its limits. */
  setting: FairSetting;
  /** What the rate and the window count: `entries` (audit-write) or `jobs`. */
  unit: 'entries' | 'jobs';
  /** A job's largest cost: a tenant's turn lets it send this much. */
  quantum: number;
  /** Cost in flight across every process when the workers have not set one (FAIR_*_WINDOW). */
  defaultWindow: number;
}

/** The window of audit-write (entries) and alert (jobs) by default; workers write theirs to Redis. */
export const DEFAULT_AUDIT_WINDOW = 16000;
export const DEFAULT_ALERT_WINDOW = 100;

export const FAIR_KINDS: readonly FairKind[] = [
  {
    queue: AUDIT_WRITE_QUEUE,
    setting: 'auditWrite',
    unit: 'entries',
    quantum: AUDIT_MAX_ENTRIES_PER_JOB,
    defaultWindow: DEFAULT_AUDIT_WINDOW,
  },
  { queue: ALERT_QUEUE, setting: 'alert', unit: 'jobs', quantum: 1, defaultWindow: DEFAULT_ALERT_WINDOW },
  { queue: RETENTION_QUEUE, setting: 'retention', unit: 'jobs', quantum: 1, defaultWindow: 4 },
];

/** The fair kind of `queue`, if its tenant jobs are dispatched fairly. */
export function fairKindOf(queue: string): FairKind | undefined {
  return FAIR_KINDS.find((k) => k.queue === queue);
}

/** The limits a tenant has before its settings are read: the settings' defaults. */
export function defaultLimits(kind: FairKind): { maxRunning: number; perSecond: number } {
  return defaultTenantSettings().jobs[kind.setting];
}

/** The eleven keys of fair.lua for `queue`, under the BullMQ prefix (braced on a cluster: one slot). */
export function fairKeys(queuePrefix: string, queue: string): string[] {
  const base = `${queuePrefix}:fair:${queue}`;
  return ['parked', 'items', 'ring', 'tenants', 'running', 'jobs', 'meta', 'limits', 'buckets', 'seen', 'claimed'].map(
    (part) => `${base}:${part}`,
  );
}
