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

/**
 * Who made a change, and, when it came over HTTP, the request it came with: every
 * entry recording the change carries them, so the trail leads back to the request
 * (its id in the logs, the address and client it came from).
 */
export interface AuditActor {
  type: 'user' | 'service' | 'system';
  id: string;
  requestId?: string;
  /** An address the entry's `ip` field accepts (producers/http clientAddress makes one). */
  ip?: string;
  userAgent?: string;
}

/** The entry fields an actor fills. */
export function actorFields(
  actor: AuditActor,
): Pick<AuditEntryInput, 'actorType' | 'actorId' | 'requestId' | 'ip' | 'userAgent'> {
  return {
    actorType: actor.type,
    actorId: actor.id,
    requestId: actor.requestId,
    ip: actor.ip,
    userAgent: actor.userAgent,
  };
}

export async function recordAuditInTx(
  tx: TransactionClient,
  input: AuditEntryInput,
  now: () => Date = () => new Date(),
): Promise<string> {
  const [eventId] = await recordAuditEntriesInTx(tx, [input], now);
  return eventId!;
}

/**
 * Several entries (any tenants) in one append: the statements a transaction spends on
 * its audit entries stay the same however many tenants it touched.
 */
export async function recordAuditEntriesInTx(
  tx: TransactionClient,
  inputs: AuditEntryInput[],
  now: () => Date = () => new Date(),
): Promise<string[]> {
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
  const outcomes = await appendEntries(
    prismaSql(tx),
    entries.map((e) => encodeEntry(prepareEntry(e))),
    now,
  );
  if (outcomes.length !== entries.length || outcomes.some((o) => o.status === 'unknown_tenant')) {
    throw new ValidationError('audit entry', [{ path: 'tenantId', message: 'no such tenant' }]);
  }
  return entries.map((e) => e.eventId);
}
