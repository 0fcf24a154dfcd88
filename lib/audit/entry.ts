/**
 * Turning a validated job entry into what is stored and hashed: secrets redacted,
 * absent fields null, confidence fixed to the column's four decimals.
 */
import type { AuditEntry } from '../contracts/audit.js';
import { redactJson } from '../redact.js';
import type { ChainEntry } from './chain.js';

/** A ChainEntry still waiting for its seq and recordedAt. */
export type PreparedEntry = Omit<ChainEntry, 'seq' | 'recordedAt'>;

export function prepareEntry(e: AuditEntry): PreparedEntry {
  return {
    tenantId: e.tenantId,
    eventId: e.eventId,
    occurredAt: e.occurredAt,
    actorType: e.actorType,
    actorId: e.actorId ?? null,
    action: e.action,
    resourceType: e.resourceType,
    resourceId: e.resourceId ?? null,
    before: e.before ? redactJson(e.before) : null,
    after: e.after ? redactJson(e.after) : null,
    metadata: e.metadata ? redactJson(e.metadata) : null,
    reason: e.reason ?? null,
    confidence: e.confidence === undefined ? null : e.confidence.toFixed(4),
    requestId: e.requestId ?? null,
    ip: e.ip ?? null,
    userAgent: e.userAgent ?? null,
    severity: e.severity ?? null,
  } as PreparedEntry;
}
