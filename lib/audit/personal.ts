/**
 * Format 2's personal data: the fields lib/privacy/fields.ts declares personal are taken
 * out of the entry, stored in `audit_personal_data` with a random per-entry salt, and the
 * chain hashes their salted digest instead (docs/jobs/audit-write.md § Format 2, the
 * normative text; scripts/verify-audit-chain.py implements it independently).
 *
 *   personal object = the nine members actor_id, after_state, before_state, ip, metadata,
 *                     reason, request_id, resource_id, user_agent (null where the field
 *                     is absent or not personal for the tenant), as canonical JSON
 *   pd_digest       = hex(SHA-256(UTF-8(personal object) ‖ ASCII(salt)))
 *
 * An entry none of whose personal fields holds a value has no personal data: no row,
 * pd_digest null.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PERSONAL_COLUMNS, type PersonalField } from '../privacy/fields.js';
import { canonicalJson, type CanonicalJsonFields } from './chain.js';
import type { PreparedEntry } from './entry.js';

/** audit_personal_data's value columns in canonical (sorted) order, with their field. */
export const PD_MEMBERS: ReadonlyArray<[column: string, field: PersonalField, json: boolean]> = [
  ['actor_id', 'actorId', false],
  ['after_state', 'after', true],
  ['before_state', 'before', true],
  ['ip', 'ip', false],
  ['metadata', 'metadata', true],
  ['reason', 'reason', false],
  ['request_id', 'requestId', false],
  ['resource_id', 'resourceId', false],
  ['user_agent', 'userAgent', false],
];

/** Column name to SQL type, for the unnest insert. */
export const PD_TYPES: Readonly<Record<string, string>> = {
  actor_id: 'text',
  after_state: 'jsonb',
  before_state: 'jsonb',
  ip: 'text',
  metadata: 'jsonb',
  reason: 'text',
  request_id: 'text',
  resource_id: 'text',
  user_agent: 'text',
};

/** One entry's personal data as stored: text values, and JSON members as canonical JSON text. */
export interface PersonalPart {
  salt: string;
  digest: string;
  /** By column (PD_MEMBERS order): the text, the canonical JSON text, or null. */
  values: Array<string | null>;
}

const FIELD_OF_COLUMN = new Map(PD_MEMBERS.map(([c, f]) => [c, f]));

/**
 * Split a prepared entry: the entry as audit_log stores and hashes it (personal fields
 * null, format 2, pdDigest set) and its personal part (undefined when it holds none).
 * @param json the entry's canonical JSON fields (canonicalJsonFields), reused for the digest.
 * @param fields the tenant's personal fields (personalFieldsFor).
 * @param salt injectable for tests; default 16 random bytes as hex.
 */
export function splitPersonal(
  entry: PreparedEntry,
  json: CanonicalJsonFields,
  fields: readonly PersonalField[],
  salt: string = randomBytes(16).toString('hex'),
): { entry: PreparedEntry; json: CanonicalJsonFields; personal: PersonalPart | undefined } {
  const personalSet = new Set(fields);
  const values: Array<string | null> = [];
  let any = false;
  for (const [, field, isJson] of PD_MEMBERS) {
    let v: string | null = null;
    if (personalSet.has(field)) {
      v = isJson ? json[field as 'before' | 'after' | 'metadata'] : (entry[field as 'actorId'] ?? null);
      if (v !== null) any = true;
    }
    values.push(v);
  }
  const rest: PreparedEntry = { ...entry, format: 2, pdDigest: null };
  const restJson = { ...json };
  for (const f of fields) {
    if (f === 'before' || f === 'after' || f === 'metadata') {
      rest[f] = null;
      restJson[f] = null;
    } else rest[f] = null;
  }
  if (!any) return { entry: rest, json: restJson, personal: undefined };
  const digest = personalDigest(values, salt);
  rest.pdDigest = digest;
  return { entry: rest, json: restJson, personal: { salt, digest, values } };
}

/** The canonical personal object from the nine values (JSON members already canonical text). */
export function canonicalPersonal(values: ReadonlyArray<string | null>): string {
  let out = '{';
  PD_MEMBERS.forEach(([column, , isJson], i) => {
    const v = values[i] ?? null;
    out += `${i === 0 ? '' : ','}"${column}":${v === null ? 'null' : isJson ? v : JSON.stringify(v)}`;
  });
  return out + '}';
}

/**
 * pd_digest = hex(SHA-256(UTF-8(canonical personal object) ‖ ASCII(salt))), fed piece
 * by piece (the object's text is never built: it would copy the JSON members again).
 */
export function personalDigest(values: ReadonlyArray<string | null>, salt: string): string {
  const h = createHash('sha256');
  for (let i = 0; i < PD_MEMBERS.length; i++) {
    const [, , isJson] = PD_MEMBERS[i]!;
    const v = values[i] ?? null;
    h.update(PD_KEYS[i]!, 'utf8');
    h.update(v === null ? 'null' : isJson ? v : JSON.stringify(v), 'utf8');
  }
  return h.update('}', 'utf8').update(salt, 'ascii').digest('hex');
}

/** `{"actor_id":`, `,"after_state":`, …: the text before each member's value. */
const PD_KEYS = PD_MEMBERS.map(([c], i) => `${i === 0 ? '{' : ','}"${c}":`);

/** The nine values of a stored audit_personal_data row (JSON columns as parsed jsonb), canonicalised. */
export function personalValuesOfRow(row: Record<string, unknown>): Array<string | null> {
  return PD_MEMBERS.map(([column, , isJson]) => {
    const v = row[column];
    if (v === null || v === undefined) return null;
    return isJson ? canonicalJson(v) : String(v);
  });
}

/** The field a personal-data column holds. */
export function fieldOfColumn(column: string): PersonalField | undefined {
  return FIELD_OF_COLUMN.get(column);
}

export { PERSONAL_COLUMNS };
