/**
 * Recording an audit entry inside the caller's transaction, so that a change and the
 * entry that records it commit or roll back together.
 */
import { randomUUID } from 'node:crypto';
import type { TransactionClient } from '../clients/prisma.js';
import { auditEntrySchema, type AuditEntryInput } from '../contracts/audit.js';
import { ValidationError, problemsFromZod } from '../errors.js';
import { encodeEntry } from './encode.js';
import { prepareEntry } from './entry.js';
import { appendEntries, prismaSql } from './store.js';

export const SYSTEM_TENANT_ID = '00000000-0000-4000-8000-000000000001';

export async function recordAuditInTx(tx: TransactionClient, input: AuditEntryInput, now: () => Date = () => new Date()): Promise<string> {
  const [eventId] = await recordAuditEntriesInTx(tx, [input], now);
  return eventId!;
}

/**
 * Several entries (any tenants) in one append: the statements a transaction spends on
 * its audit entries stay the same however many tenants it touched.
 */
export async function recordAuditEntriesInTx(tx: TransactionClient, inputs: AuditEntryInput[], now: () => Date = () => new Date()): Promise<string[]> {
  const entries = inputs.map((input) => {
    const parsed = auditEntrySchema.safeParse({
      ...input,
      eventId: input.eventId ?? randomUUID(),
      occurredAt: input.occurredAt ?? now().toISOString(),
    });
    if (!parsed.success) throw new ValidationError('audit entry', problemsFromZod(parsed.error.issues));
    return parsed.data;
  });
  if (entries.length === 0) return [];
  const outcomes = await appendEntries(prismaSql(tx), entries.map((e) => encodeEntry(prepareEntry(e))), now);
  if (outcomes.length !== entries.length || outcomes.some((o) => o.status === 'unknown_tenant')) {
    throw new ValidationError('audit entry', [{ path: 'tenantId', message: 'no such tenant' }]);
  }
  return entries.map((e) => e.eventId);
}
