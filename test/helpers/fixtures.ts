/** Test data builders. */
import type { AuditEntryInput } from '../../lib/contracts/audit.js';

let n = 0;

export function entry(tenantId: string, overrides: Partial<AuditEntryInput> = {}): AuditEntryInput {
  n++;
  return {
    tenantId,
    actorType: 'user',
    actorId: `user-${n}`,
    action: 'task:completed',
    resourceType: 'task',
    resourceId: `task-${n}`,
    before: { status: 'open' },
    after: { status: 'done' },
    ...overrides,
  };
}

/**
 * The target policy of tests whose receivers listen on loopback: channels pointing at
 * them are allowed, as with ALERT_TARGETS_ALLOW_PRIVATE=true (testConfig sets it).
 */
export const LOOPBACK_TARGETS = { allowPrivateTargets: true } as const;
