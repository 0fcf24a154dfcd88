/**
 * Which active legal holds cover a subject's data. Erasure refuses a subject any of
 * whose data a hold covers (art. 17(3)(e): kept for legal claims), before it changes
 * anything, naming each hold and what it covers; audit_erase_personal() checks the
 * holds of audit entries again in the database.
 */
import type { LegalHold } from '../../generated/prisma/client.js';
import { holdTarget, holdsObject } from '../retention/holds.js';
import type { FoundAlert, FoundEntry } from './find.js';

export interface HeldBy {
  holdId: string;
  /** What the hold covers, as `bulwark hold list` prints it. */
  target: string;
  reason: string;
  entries: number;
  alerts: number;
  objects: number;
}

/** Each active hold covering some of the found data, with how much. */
export function holdsCovering(
  holds: readonly LegalHold[],
  tenantId: string,
  found: { entries: readonly FoundEntry[]; alerts: readonly FoundAlert[]; objects: readonly string[] },
): HeldBy[] {
  const out: HeldBy[] = [];
  for (const h of holds) {
    const entries = found.entries.filter(
      (e) =>
        h.scope === 'all' ||
        (h.scope === 'actor' && h.actorId === e.actorId) ||
        (h.scope === 'resource' && h.resourceType === e.resourceType && h.resourceId === e.resourceId),
    ).length;
    const alerts = found.alerts.filter(
      (a) =>
        h.scope === 'all' ||
        (h.scope === 'actor' && h.actorId === a.userId) ||
        (h.scope === 'resource' && h.resourceType === 'alert' && h.resourceId === a.id),
    ).length;
    const objects = found.objects.filter((k) => holdsObject([h], tenantId, k) !== undefined).length;
    if (entries + alerts + objects > 0)
      out.push({ holdId: h.id, target: holdTarget(h), reason: h.reason, entries, alerts, objects });
  }
  return out;
}

/** The refusal's message: every hold, what it covers of the subject's data. */
export function heldMessage(tenantId: string, held: readonly HeldBy[]): string {
  const each = held.map(
    (h) =>
      `hold ${h.holdId} (${h.target}: ${h.reason}) covers ${h.entries} audit entr${h.entries === 1 ? 'y' : 'ies'}, ${h.alerts} alert(s), ${h.objects} object(s)`,
  );
  return `refused: legal holds of tenant ${tenantId} cover this subject's data, so nothing was erased; ${each.join('; ')}. Release the hold (bulwark hold release) or wait for its end, then erase again`;
}
