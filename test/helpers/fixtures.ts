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
