/**
 * A tenant's retention policy: for each class, its TTL in days (from the tenant's
 * settings, where every field has a system default) and the cutoff it gives at a
 * moment: what was written before the cutoff has expired.
 */
import type { TenantSettings } from '../tenants/settings.js';
import { OBJECT_CLASSES, type RetentionClass } from './classes.js';

const DAY_MS = 86_400_000;

export interface ClassPolicy {
  class: RetentionClass;
  /** The setting the TTL came from, e.g. `retention.defaultDays`. */
  setting: string;
  ttlDays: number;
  cutoff: Date;
}

export function retentionPolicy(settings: TenantSettings, now: Date): ClassPolicy[] {
  const r = settings.retention;
  const at = (cls: RetentionClass, setting: string, ttlDays: number): ClassPolicy => ({
    class: cls,
    setting: `retention.${setting}`,
    ttlDays,
    cutoff: new Date(now.getTime() - ttlDays * DAY_MS),
  });
  return [
    at('audit', 'defaultDays', r.defaultDays),
    at('audit:security', 'securityDays', r.securityDays),
    at('alerts', 'alertLedgerDays', r.alertLedgerDays),
    at('apikeys', 'endedKeysDays', r.endedKeysDays),
    at('secret-rotations', 'rotationHistoryDays', r.rotationHistoryDays),
    ...OBJECT_CLASSES.map((c) => at(c.name, `objects.${c.setting}`, r.objects[c.setting])),
  ];
}
