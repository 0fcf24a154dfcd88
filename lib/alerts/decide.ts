/**
 * The alert-policy decision: one atomic Redis script (decide.lua) per alert answers
 * deliver, suppress (with a reason), group or defer. Quiet hours are computed here in
 * the tenant's time zone and handed to the script as a flag. The policy is an argument
 * of every call, so a settings change applies to the next alert without a restart.
 * The script is read and defined when a decider is created, never at import time.
 */
import type { RedisClient } from '../clients/redis.js';
import { defineScript } from '../redis-script.js';
import {
  isInt,
  isText,
  validateDecisionInput,
  type AlertDecisionInput,
  type AlertPolicy,
  type QuietHoursPolicy,
} from './decision-input.js';
import { createForgetter } from './forgetter.js';
import { bypassesQuietHours } from './quiet-hold.js';
import { quietWindow } from './quiet-hours.js';

export type { AlertDecisionInput, AlertPolicy, AlertSeverity, QuietHoursPolicy } from './decision-input.js';

// No fixed key count: the first argument is the count (6, plus the watched keys).
const SCRIPT = { name: 'bulwarkAlertDecide', file: new URL('./decide.lua', import.meta.url) };

export type AlertOutcome = 'deliver' | 'suppress' | 'group' | 'defer';
export type SuppressReason = 'duplicate' | 'user_throttled' | 'quiet_hours' | 'cooldown' | 'rate_limited';

export interface AlertDecision {
  outcome: AlertOutcome;
  reason?: SuppressReason;
  /** For 'defer': when quiet hours end. */
  deferUntil?: Date;
  /** For 'group': the group joined or opened (its id is the opener's alertId). */
  group?: { id: string; flushAt: Date; opened: boolean };
  /** For 'duplicate': the alertId that first used the dedupe key (equal to alertId on a replay). */
  duplicateOf?: string;
  /** With `watch`: each watched key's PTTL as Redis reports it (-2 no key, -1 no expiry), in order. */
  watchedTtlMs?: number[];
  /** The clock reading the decision was made at. */
  decidedAt: Date;
}

export interface AlertDeciderOptions {
  /** Prefix of every key, e.g. the queue prefix. */
  keyPrefix: string;
  /** Source of "now" for every rule. Default: `() => new Date()`. */
  clock?: () => Date;
  /** How long a dedupe key is remembered, ms. Default: 86 400 000 (24 h). */
  dedupeTtlMs?: number;
  /**
   * How long an alert's decision is remembered, ms: a run of its job again within this
   * time (a retry, a job taken over after a crash) gets the same decision back instead
   * of a new one that its own first decision's cooldown or limit would suppress. It
   * covers the time between deciding and recording (the alert job forgets it once the
   * row is written), so it must outlast the alert job's retries (about two minutes of
   * backoff, plus the lock time of a job taken over after a crash). Default: 900 000 (15 min).
   */
  replayTtlMs?: number;
  /** Told when a forget's UNLINK fails (the keys then expire after replayTtlMs). Default: nothing. */
  onForgetError?: (err: unknown) => void;
}

export interface AlertDecider {
  /**
   * `watch`: keys of the caller's in the tenant's hash slot whose remaining TTL is read
   * by the same script call (the alert worker's channel pauses: a `deliver` decision
   * then needs no second round trip before sending). Default: none.
   */
  decide(input: AlertDecisionInput, policy: AlertPolicy, watch?: string[]): Promise<AlertDecision>;
  /**
   * Drop the remembered decision once what follows it is recorded (the row then tells a
   * re-run what to redo). Not awaited by anyone: the forgets of concurrently finishing
   * jobs share one UNLINK per tenant, sent after the current turn (and while one is in
   * Redis, the next ones gather). A failed one only leaves keys to their TTL (replayTtlMs).
   */
  forget(input: Pick<AlertDecisionInput, 'tenantId' | 'alertId'>): void;
  /** Resolves once every forget so far has been sent to Redis. */
  forgotten(): Promise<void>;
}

/** Where one alert's decision is remembered for a replay (KEYS[6] of the script). */
export function decidedKey(keyPrefix: string, tenantId: string, alertId: string): string {
  return `${keyPrefix}:alert:{${tenantId}}:decided:${alertId}`;
}

/** The Redis keys one decision touches, in the script's KEYS order. Tenant is the hash tag. */
export function alertKeys(
  keyPrefix: string,
  input: Pick<AlertDecisionInput, 'tenantId' | 'alertId' | 'type' | 'groupKey' | 'userId' | 'dedupeKey'>,
): string[] {
  const base = `${keyPrefix}:alert:{${input.tenantId}}`;
  return [
    `${base}:count`,
    `${base}:type:${input.type}:cooldown`,
    `${base}:user:${input.userId ?? ''}:throttle`,
    `${base}:group:${input.groupKey ?? input.type}`,
    `${base}:seen:${input.dedupeKey ?? ''}`,
    decidedKey(keyPrefix, input.tenantId, input.alertId),
  ];
}

/** The tenant settings' `alerts` section, plus the fields this module can use if settings gain them. */
export interface AlertSettingsLike {
  maxPerWindow: number;
  windowSeconds: number;
  cooldownSeconds: number;
  groupWaitSeconds?: number;
  userThrottle?: { limit: number; windowSeconds: number };
  quietHours: Omit<QuietHoursPolicy, 'timezone'> & { timezone?: string | null };
}

/** Maps tenant settings (seconds) to a policy (ms). Time zone default: 'UTC'. */
export function policyFromSettings(a: AlertSettingsLike): AlertPolicy {
  return {
    maxPerWindow: a.maxPerWindow,
    windowMs: a.windowSeconds * 1000,
    cooldownMs: a.cooldownSeconds * 1000,
    groupWaitMs: (a.groupWaitSeconds ?? 0) * 1000,
    userLimit: a.userThrottle?.limit ?? 0,
    userWindowMs: (a.userThrottle?.windowSeconds ?? 60) * 1000,
    quietHours: { ...a.quietHours, timezone: a.quietHours.timezone ?? 'UTC' },
  };
}

type Reply = [string, string, number, string, number, number, string, ...number[]];

/** Defines the script on `redis` (once per connection) and returns a decider. */
export function createAlertDecider(redis: RedisClient, options: AlertDeciderOptions): AlertDecider {
  const clock = options.clock ?? (() => new Date());
  const dedupeTtlMs = options.dedupeTtlMs ?? 86_400_000;
  if (!isText(options.keyPrefix, 200)) throw new RangeError('keyPrefix must be a string of 1-200 characters');
  const replayTtlMs = options.replayTtlMs ?? 900_000;
  if (!isInt(dedupeTtlMs, 1)) throw new RangeError(`dedupeTtlMs must be a whole number >= 1 (got ${dedupeTtlMs})`);
  if (!isInt(replayTtlMs, 1)) throw new RangeError(`replayTtlMs must be a whole number >= 1 (got ${replayTtlMs})`);
  const run = defineScript<Array<string | number>, Reply>(redis, SCRIPT);
  const forgetting = createForgetter(redis, (err) => options.onForgetError?.(err));

  return {
    async decide(input, policy, watch = []) {
      validateDecisionInput(input, policy);
      const now = clock();
      const nowMs = now.getTime();
      const q = policy.quietHours;
      const quiet = q ? quietWindow(now, q) : { inQuiet: false };
      const bypass = q !== undefined && bypassesQuietHours(q, input.severity);
      const flag = (b: boolean) => (b ? 1 : 0);
      const [outcome, reason, deferUntil, groupId, flushAt, opened, duplicateOf, ...watchedTtlMs] = await run(
        6 + watch.length,
        ...alertKeys(options.keyPrefix, input),
        ...watch,
        nowMs,
        input.alertId,
        flag(input.severity === 'critical'),
        flag(input.userId !== undefined),
        flag(input.dedupeKey !== undefined),
        flag(quiet.inQuiet),
        quiet.endsAt?.getTime() ?? 0,
        q?.mode ?? 'defer',
        flag(bypass),
        policy.maxPerWindow,
        policy.windowMs,
        policy.cooldownMs,
        policy.groupWaitMs ?? 0,
        policy.userLimit ?? 0,
        policy.userWindowMs ?? 60_000,
        dedupeTtlMs,
        replayTtlMs,
      );
      const decision: AlertDecision = { outcome: outcome as AlertOutcome, decidedAt: now };
      if (reason) decision.reason = reason as SuppressReason;
      if (outcome === 'defer') decision.deferUntil = new Date(deferUntil);
      if (outcome === 'group') decision.group = { id: groupId, flushAt: new Date(flushAt), opened: opened === 1 };
      if (duplicateOf) decision.duplicateOf = duplicateOf;
      if (watch.length > 0) decision.watchedTtlMs = watchedTtlMs;
      return decision;
    },
    forget(input) {
      forgetting.add(input.tenantId, decidedKey(options.keyPrefix, input.tenantId, input.alertId));
    },
    forgotten: () => forgetting.drain(),
  };
}
