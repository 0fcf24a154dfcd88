/**
 * The one declaration of which fields of an audit entry are personal data (GDPR art. 4
 * (1)), and where an entry names a data subject. Subject erasure (lib/privacy/erase*.ts)
 * and subject export build on this file; docs/DATA_MANAGEMENT.md § Personal data
 * describes it for people.
 *
 * - Built in, for every tenant: `actorId`, `ip`, `userAgent`, `before`, `after`,
 *   `metadata` (BUILT_IN_PERSONAL_FIELDS).
 * - A tenant may add `resourceId`, `reason` and `requestId` through its settings
 *   (`privacy.personalFields`, validated in lib/tenants/settings.ts), e.g. when its
 *   resource ids are e-mail addresses (OPTIONAL_PERSONAL_FIELDS).
 *
 * Format-2 entries keep these fields out of `audit_log`, in `audit_personal_data` with
 * a per-entry salt; the chain hashes a salted digest of them instead
 * (docs/jobs/audit-write.md § Format 2). An entry **names** a subject when one of its
 * personal fields holds the subject's identifier as a whole string value: a text field
 * equal to it, or, inside before/after/metadata, any string value at any depth equal to
 * it (object keys and numbers do not count; the comparison is exact, case included).
 *
 * This module imports nothing and touches no database: it is safe anywhere.
 */

/** Personal-data fields of every tenant's entries. */
export const BUILT_IN_PERSONAL_FIELDS = ['actorId', 'ip', 'userAgent', 'before', 'after', 'metadata'] as const;

/** Fields a tenant may declare personal in addition (tenant setting `privacy.personalFields`). */
export const OPTIONAL_PERSONAL_FIELDS = ['resourceId', 'reason', 'requestId'] as const;

export type OptionalPersonalField = (typeof OPTIONAL_PERSONAL_FIELDS)[number];
export type PersonalField = (typeof BUILT_IN_PERSONAL_FIELDS)[number] | OptionalPersonalField;

/** Every field that can be personal, in the order of ALL_PERSONAL_COLUMNS. */
export const ALL_PERSONAL_FIELDS: readonly PersonalField[] = [...BUILT_IN_PERSONAL_FIELDS, ...OPTIONAL_PERSONAL_FIELDS];

/** The column of each field, in `audit_log` and `audit_personal_data` alike. */
export const PERSONAL_COLUMNS: Readonly<Record<PersonalField, string>> = {
  actorId: 'actor_id',
  ip: 'ip',
  userAgent: 'user_agent',
  before: 'before_state',
  after: 'after_state',
  metadata: 'metadata',
  resourceId: 'resource_id',
  reason: 'reason',
  requestId: 'request_id',
};

/** The fields whose value is a JSON object (searched at every depth); the others are text. */
export const JSON_PERSONAL_FIELDS: ReadonlySet<PersonalField> = new Set(['before', 'after', 'metadata']);

/** The part of tenant settings this module reads (lib/tenants/settings.ts `privacy`). */
export interface PrivacySettings {
  privacy?: { personalFields?: readonly OptionalPersonalField[] } | undefined;
}

/**
 * A tenant's personal-data fields: the built-in ones, then its additions in
 * ALL_PERSONAL_FIELDS order (duplicates and unknown names ignored).
 * @param settings the tenant's settings; absent or without `privacy`: built-in fields only.
 */
export function personalFieldsFor(settings?: PrivacySettings | null): readonly PersonalField[] {
  const extra = new Set<string>(settings?.privacy?.personalFields ?? []);
  if (extra.size === 0) return BUILT_IN_PERSONAL_FIELDS;
  return ALL_PERSONAL_FIELDS.filter((f) => !isOptional(f) || extra.has(f));
}

function isOptional(f: PersonalField): f is OptionalPersonalField {
  return (OPTIONAL_PERSONAL_FIELDS as readonly string[]).includes(f);
}

/** An entry's personal fields as found (absent, null or values); other fields are ignored. */
export type PersonalValues = Partial<Record<PersonalField, unknown>>;

/** Where an entry names the subject: the field, and a path inside it (`after.user.email`, `metadata.to[2]`). */
export interface SubjectMatch {
  field: PersonalField;
  path: string;
}

/**
 * Where `entry` names `subject`, in field order then document order; empty when nowhere.
 * @param fields the personal fields to look in. Default: BUILT_IN_PERSONAL_FIELDS (use
 *   personalFieldsFor(settings) for a tenant's own).
 */
export function findSubject(
  entry: PersonalValues,
  subject: string,
  fields: readonly PersonalField[] = BUILT_IN_PERSONAL_FIELDS,
): SubjectMatch[] {
  const found: SubjectMatch[] = [];
  if (subject === '') return found;
  for (const field of fields) {
    const value = entry[field];
    if (value === null || value === undefined) continue;
    if (JSON_PERSONAL_FIELDS.has(field)) walk(value, field, subject, field, found);
    else if (value === subject) found.push({ field, path: field });
  }
  return found;
}

/** Whether `entry` names `subject` in any of `fields` (see findSubject). */
export function namesSubject(
  entry: PersonalValues,
  subject: string,
  fields: readonly PersonalField[] = BUILT_IN_PERSONAL_FIELDS,
): boolean {
  return findSubject(entry, subject, fields).length > 0;
}

function walk(value: unknown, path: string, subject: string, field: PersonalField, out: SubjectMatch[]): void {
  if (typeof value === 'string') {
    if (value === subject) out.push({ field, path });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`, subject, field, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, `${path}.${k}`, subject, field, out);
  }
}
