/**
 * Tenant settings: one JSON document per tenant, validated by this schema with a
 * default for every field, so a new tenant is usable at once and older documents
 * gain new fields' defaults when read. Alert and retention issues read these.
 */
import { z } from 'zod';
import { assertTimeZone } from '../alerts/quiet-hours.js';

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
          .object({ limit: z.number().int().min(0).max(100000).default(10), windowSeconds: z.number().int().min(1).max(86400).default(60) })
          .strict()
          .prefault({}),
        quietHours: z
          .object({
            enabled: z.boolean().default(false),
            start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM').default('22:00'),
            end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM').default('07:00'),
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
    retention: z
      .object({
        /** Days ordinary audit entries and objects are kept. Default: 90. */
        defaultDays: z.number().int().min(1).max(3650).default(90),
        /** Days security:* audit entries are kept (Bematic: 365). */
        securityDays: z.number().int().min(1).max(3650).default(365),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type TenantSettings = z.output<typeof tenantSettingsSchema>;

export function defaultTenantSettings(): TenantSettings {
  return tenantSettingsSchema.parse({});
}
