/**
 * The audit hash chain. docs/jobs/audit-write.md ("Canonical serialisation") is the
 * normative description of this file; change both together or verification of
 * existing chains breaks.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);
/** The first canonical form: every field in the entry (docs/jobs/audit-write.md § Canonical serialisation). */
export const CHAIN_FORMAT_VERSION = 1;
/** Canonical forms an entry's hash may follow: 2 keeps personal data apart (§ Format 2). */
export const CHAIN_FORMATS = [1, 2] as const;
export type ChainFormat = (typeof CHAIN_FORMATS)[number];

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
  /** The canonical form; absent means 1. */
  format?: ChainFormat;
  /** Format 2: the salted digest of the personal data (null when the entry has none). */
  pdDigest?: string | null;
}

/**
 * JSON Canonicalization Scheme (RFC 8785) for the JSON our entries hold: object keys
 * sorted by UTF-16 code units, no insignificant white space, strings and numbers as
 * ECMAScript JSON.stringify writes them.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite numbers have no JSON form');
    return JSON.stringify(value);
  }
  // Loops and concatenation rather than map/join: this runs for every stored entry.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return out + ']';
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, exactly as RFC 8785 asks.
    const keys = Object.keys(obj).sort();
    let out = '{';
    for (const k of keys) {
      const v = obj[k];
      if (v === undefined) continue;
      out += (out.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v);
    }
    return out + '}';
  }
  throw new TypeError(`cannot canonicalise a ${typeof value}`);
}

/**
 * canonicalEntry split around the two values only the commit knows: the text before
 * recorded_at's value, between it and seq's value, and after. Everything else can be
 * serialised before the commit, outside the serial part of the write.
 */
export interface CanonicalParts {
  beforeRecordedAt: string;
  beforeSeq: string;
  rest: string;
}

/**
 * The canonical form of an entry whose seq and recorded_at are not known yet. The
 * same text canonicalJson would write for the object of the twenty fields, but built
 * directly: the top-level keys are fixed, so their sorted order is written out below
 * once instead of an object being built and its keys sorted for every entry.
 * test/unit/chain.test.ts checks the two agree.
 */
export function canonicalParts(
  e: Omit<ChainEntry, 'seq' | 'recordedAt'>,
  jsonTexts: CanonicalJsonFields = canonicalJsonFields(e),
): CanonicalParts {
  const s = JSON.stringify;
  // Keys in UTF-16 order: action < actor_id < actor_type < after_state < before_state
  // < confidence < event_id < ip < metadata < occurred_at < reason < recorded_at
  // < request_id < resource_id < resource_type < seq < severity < tenant_id
  // < user_agent < v.
  // join, not +: the parts are kept until the commit, and a joined string is one flat
  // allocation where a chain of + would keep every piece alive (about twice the memory).
  return {
    beforeRecordedAt: [
      '{"action":',
      s(e.action),
      ',"actor_id":',
      text(e.actorId),
      ',"actor_type":',
      s(e.actorType),
      ',"after_state":',
      jsonTexts.after ?? 'null',
      ',"before_state":',
      jsonTexts.before ?? 'null',
      ',"confidence":',
      text(e.confidence),
      ',"event_id":',
      s(e.eventId),
      ',"ip":',
      text(e.ip),
      ',"metadata":',
      jsonTexts.metadata ?? 'null',
      ',"occurred_at":',
      s(e.occurredAt),
      // Format 2 only: between occurred_at and reason in key order.
      e.format === 2 ? `,"pd_digest":${text(e.pdDigest)}` : '',
      ',"reason":',
      text(e.reason),
      ',"recorded_at":',
    ].join(''),
    beforeSeq: [
      ',"request_id":',
      text(e.requestId),
      ',"resource_id":',
      text(e.resourceId),
      ',"resource_type":',
      s(e.resourceType),
      ',"seq":',
    ].join(''),
    rest: [
      ',"severity":',
      text(e.severity),
      ',"tenant_id":',
      s(e.tenantId),
      ',"user_agent":',
      text(e.userAgent),
      ',"v":',
      String(e.format ?? CHAIN_FORMAT_VERSION),
      '}',
    ].join(''),
  };
}

/** The canonical form from its parts and the two commit-time values. */
export function joinCanonical(parts: CanonicalParts, recordedAt: string, seq: string): string {
  return parts.beforeRecordedAt + JSON.stringify(recordedAt) + parts.beforeSeq + JSON.stringify(seq) + parts.rest;
}

/** The exact string that is hashed for an entry (see the docs for the field list). */
export function canonicalEntry(e: ChainEntry): string {
  return joinCanonical(canonicalParts(e), e.recordedAt, e.seq);
}

/** A nullable text field as canonical JSON (absent is null, as in the stored row). */
function text(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : JSON.stringify(v);
}

/** The canonical JSON of the three JSON fields, null where absent. */
export interface CanonicalJsonFields {
  before: string | null;
  after: string | null;
  metadata: string | null;
}

/** Computed once per entry: the hash and the stored jsonb columns both use it. */
export function canonicalJsonFields(e: Pick<ChainEntry, 'before' | 'after' | 'metadata'>): CanonicalJsonFields {
  const json = (v: ChainEntry['before'] | undefined) => (v === null || v === undefined ? null : canonicalJson(v));
  return { before: json(e.before), after: json(e.after), metadata: json(e.metadata) };
}

/** hash = hex(SHA-256(UTF-8(canonical entry) ‖ ASCII(previous hash hex))). */
export function chainHash(e: ChainEntry, prevHash: string): string {
  return hashCanonical(canonicalEntry(e), prevHash);
}

/** chainHash of an entry already in canonical form. */
export function hashCanonical(canonical: string, prevHash: string): string {
  return createHash('sha256').update(canonical, 'utf8').update(prevHash, 'ascii').digest('hex');
}
