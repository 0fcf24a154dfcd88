/**
 * The audit hash chain. docs/jobs/audit-write.md ("Canonical serialisation") is the
 * normative description of this file; change both together or verification of
 * existing chains breaks.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);
export const CHAIN_FORMAT_VERSION = 1;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One entry as it is hashed and stored: every field present, absent ones null. */
export interface ChainEntry {
  tenantId: string;
  seq: string;
  eventId: string;
  occurredAt: string;
  recordedAt: string;
  actorType: string;
  actorId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  before: Record<string, Json> | null;
  after: Record<string, Json> | null;
  metadata: Record<string, Json> | null;
  reason: string | null;
  /** Fixed four decimals, e.g. "0.9500", as Postgres prints numeric(5,4). */
  confidence: string | null;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  severity: string | null;
}

/**
 * JSON Canonicalization Scheme (RFC 8785) for the JSON our entries hold: object keys
 * sorted by UTF-16 code units, no insignificant white space, strings and numbers as
 * ECMAScript JSON.stringify writes them.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite numbers have no JSON form');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  throw new TypeError(`cannot canonicalise a ${typeof value}`);
}

/** The exact string that is hashed for an entry (see the docs for the field list). */
export function canonicalEntry(e: ChainEntry): string {
  return canonicalJson({
    v: CHAIN_FORMAT_VERSION,
    tenant_id: e.tenantId,
    seq: e.seq,
    event_id: e.eventId,
    occurred_at: e.occurredAt,
    recorded_at: e.recordedAt,
    actor_type: e.actorType,
    actor_id: e.actorId,
    action: e.action,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    before_state: e.before,
    after_state: e.after,
    metadata: e.metadata,
    reason: e.reason,
    confidence: e.confidence,
    request_id: e.requestId,
    ip: e.ip,
    user_agent: e.userAgent,
    severity: e.severity,
  });
}

/** hash = hex(SHA-256(UTF-8(canonical entry) ‖ ASCII(previous hash hex))). */
export function chainHash(e: ChainEntry, prevHash: string): string {
  return createHash('sha256').update(canonicalEntry(e), 'utf8').update(prevHash, 'ascii').digest('hex');
}
