/**
 * Tenant settings: one JSON document per tenant, validated by this schema with a
 * default for every field, so a new tenant is usable at once and older documents
 * gain new fields' defaults when read. Alert and retention issues read these.
 */
import { z } from 'zod';
import { assertTimeZone } from '../alerts/quiet-hours.js';
import { OBJECT_CLASSES, type ObjectClassSetting } from '../retention/classes.js';
import { OPTIONAL_PERSONAL_FIELDS } from '../privacy/fields.js';

function isTimeZone(zone: string): boolean {
  try {
    assertTimeZone(zone);
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone this runtime knows: a tenant's, or its quiet hours'. */
export const TIME_ZONE = z.string().refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Berlin');

/**
 * A retention period in days: a whole number from 1 to 3650 (ten years). 0 would delete
 * everything on the next run and is refused like a negative or absurd value.
 */
export const RETENTION_DAYS = z
  .number({ error: 'must be a whole number of days from 1 to 3650' })
  .int('must be a whole number of days from 1 to 3650')
  .min(1, 'must be at least 1 day (0 would delete everything at the next run)')
  .max(3650, 'must be at most 3650 days (ten years)');

/**
 * One job kind's per-tenant limits, enforced across every worker process by the fair
 * dispatcher (lib/fair/, docs/decisions/0010-fair-tenant-dispatch.md).
 */
const jobLimits = (maxRunning: number, perSecond: number) =>
  z
    .object({
      /** Most jobs of the kind one tenant has released to the workers and not finished. */
      maxRunning: z
        .number({ error: 'must be a whole number from 1 to 10000' })
        .int('must be a whole number from 1 to 10000')
        .min(1, 'must be at least 1 (0 would stop the kind for the tenant for good)')
        .max(10000, 'must be at most 10000')
        .default(maxRunning),
      /** Most cost units released per second (entries for audit-write, jobs otherwise); 0: no rate. */
      perSecond: z
        .number({ error: 'must be a whole number from 0 to 1000000' })
        .int('must be a whole number from 0 to 1000000')
        .min(0, 'must be 0 (no rate) or more')
        .max(1_000_000, 'must be at most 1000000')
        .default(perSecond),
    })
    .strict()
    .prefault({});

export const tenantSettingsSchema = z
  .object({
    alerts: z
      .object({
        /** Most alerts delivered per tenant per window. Default: 20 per hour. */
        maxPerWindow: z.number().int().min(1).max(100000).default(20),
        windowSeconds: z.number().int().min(1).max(86400).default(3600),
        /** Minimum seconds between two alerts of the same type. Default: 300. */
        cooldownSeconds: z.number().int().min(0).max(86400).default(300),
        /** Alerts with the same group key within this many seconds go out as one. Default: 0 (off). */
        groupWaitSeconds: z.number().int().min(0).max(3600).default(0),
        /** Per-user sliding-window throttle (EPIC-009). limit 0 turns it off. Default: 10 per 60 s. */
        userThrottle: z
          .object({
            limit: z.number().int().min(0).max(100000).default(10),
            windowSeconds: z.number().int().min(1).max(86400).default(60),
          })
          .strict()
          .prefault({}),
        quietHours: z
          .object({
            enabled: z.boolean().default(false),
            start: z
              .string()
              .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
              .default('22:00'),
            end: z
              .string()
              .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
              .default('07:00'),
            bypassSeverity: z.enum(['warning', 'high', 'critical']).default('critical'),
            mode: z.enum(['defer', 'drop']).default('defer'),
            /**
             * IANA zone start and end are read in. Absent: the tenant's own (tenants.timezone),
             * which is fixed when the tenant is created; this is how a tenant moves its quiet
             * hours to another zone, live like the rest of the policy. null: back to the tenant's.
             */
            timezone: TIME_ZONE.nullable().optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        /** Requests one API key may make per window (sliding). Default: 600 per 60 s. */
        requestsPerWindow: z.number().int().min(1).max(1_000_000).default(600),
        windowSeconds: z.number().int().min(1).max(86400).default(60),
      })
      .strict()
      .prefault({}),
    /**
     * Per-tenant limits of each job kind, across all worker processes; a change applies
     * within seconds (the workers re-read the settings of tenants enqueuing now).
     */
    jobs: z
      .object({
        /** audit-write: 100 jobs at once, 20,000 entries/s. */
        auditWrite: jobLimits(100, 20_000),
        /** alert: 50 alerts released and not decided at once, 100 alerts/s. */
        alert: jobLimits(50, 100),
        /** retention: one purge at once, no rate. */
        retention: jobLimits(1, 0),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        /** Days ordinary audit entries are kept (Bematic data minimisation). Default: 90. */
        defaultDays: RETENTION_DAYS.default(90),
        /** Days security:* audit entries are kept (Bematic: 365). Default: 365. */
        securityDays: RETENTION_DAYS.default(365),
        /** Days alert ledger rows (and their per-channel deliveries) are kept after they were received. Default: 90. */
        alertLedgerDays: RETENTION_DAYS.default(90),
        /**
         * Days a revoked or expired API key's record is kept after its end (revocation or
         * expiry). Default: 90. (Named without "apiKey" or "secret": the audit path redacts
         * fields so named, and a settings change must show its before and after.)
         */
        endedKeysDays: RETENTION_DAYS.default(90),
        /** Days a secret's rotation history rows are kept. Default: 365. */
        rotationHistoryDays: RETENTION_DAYS.default(365),
        /**
         * Days each object class of the tenant key layout (`tenant/{id}/{class}/{YYYY-MM-DD}/…`)
         * is kept, by class. Defaults: lib/retention/classes.ts OBJECT_CLASSES (raw snapshots 30,
         * reports 365, …). An unknown class is refused.
         */
        objects: z
          .object(
            Object.fromEntries(OBJECT_CLASSES.map((c) => [c.setting, RETENTION_DAYS.default(c.defaultDays)])) as Record<
              ObjectClassSetting,
              z.ZodDefault<typeof RETENTION_DAYS>
            >,
          )
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        /**
         * Entry fields this tenant treats as personal data besides the built-in ones
         * (actorId, ip, userAgent, before, after, metadata): any of resourceId, reason,
         * requestId (lib/privacy/fields.ts). Format-2 entries store them apart so that
         * subject erasure can remove them. Default: none.
         */
        personalFields: z
          .array(z.enum(OPTIONAL_PERSONAL_FIELDS, { error: `must be one of ${OPTIONAL_PERSONAL_FIELDS.join(', ')}` }))
          .max(OPTIONAL_PERSONAL_FIELDS.length)
          .refine((a) => new Set(a).size === a.length, 'must not name a field twice')
          .default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type TenantSettings = z.output<typeof tenantSettingsSchema>;

export function defaultTenantSettings(): TenantSettings {
  return tenantSettingsSchema.parse({});
}
