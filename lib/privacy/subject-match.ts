/**
 * What a data subject is, and which rows name one: the one place the subject export
 * (export*.ts) decides "this row is about the subject". Until lib/privacy/fields.ts
 * (the declaration of the audit entry's personal-data fields, issue 18 §2) lands, the
 * rule is written here, in SQL, so the integrator switches this file alone:
 *
 * - an audit entry names the subject when its `actor_id` or `resource_id` is the
 *   subject, or when the subject is a string value anywhere (any depth, in objects and
 *   arrays) inside `before_state`, `after_state` or `metadata`;
 * - an alert is about the subject when its `user_id` is the subject, or when the
 *   subject is a string value anywhere inside its `labels`.
 *
 * Comparisons are exact (case and Unicode form as given): `user-42` does not match
 * `User-42`, and a number 42 inside JSON does not match the subject `42`.
 *
 * No index serves the JSON part: a GIN index over the string values of the three JSON
 * columns made bulk audit inserts 2.3x slower here (1.33 s → 3.12 s per 200,000 rows),
 * a price every audit write would pay for a rare request. An export scans the tenant's
 * entries in chain order instead, through the (tenant_id, seq) index: about 0.8 million
 * entries per second measured here (500,000 in 0.6 s).
 */
import { ValidationError } from '../errors.js';

/** Longest subject, in characters: the width of `actor_id` and `resource_id`. */
export const SUBJECT_MAX_LENGTH = 255;

// C0 and C1 control characters, and the line and paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The subject as given, or a ValidationError naming `subject` (at `path`): a string of
 * 1-255 characters, no control characters, no unpaired surrogates, no whitespace at
 * either end (a subject is an identifier such as `user-42` or an e-mail address; a
 * stray space would silently match nothing).
 */
export function checkSubject(value: unknown, path = 'subject'): string {
  const fail = (message: string): never => {
    throw new ValidationError('subject', [{ path, message }]);
  };
  if (typeof value !== 'string') return fail(value === undefined ? 'is required' : 'must be a string');
  if (value.length === 0) fail('must not be empty');
  if (value.length > SUBJECT_MAX_LENGTH) fail(`must be at most ${SUBJECT_MAX_LENGTH} characters`);
  if (CONTROL.test(value)) fail('must not contain control characters or line separators');
  if (LONE_SURROGATE.test(value)) fail('must not contain unpaired surrogates');
  if (value.trim() !== value) fail('must not begin or end with whitespace');
  return value;
}

/**
 * The jsonpath that finds the subject as a string value at any depth. The subject is
 * written as a JSON string literal, which jsonpath reads with the same escapes, and is
 * passed as a parameter, never spliced into SQL.
 */
export function subjectJsonPath(subject: string): string {
  return `strict $.** ? (@ == ${JSON.stringify(checkSubject(subject))})`;
}

/** The parameters every condition below reads: `$1` tenant id, `$2` subject, `$3` its jsonpath. */
export function subjectParams(tenantId: string, subject: string): [string, string, string] {
  return [tenantId, subject, subjectJsonPath(subject)];
}

const jsonHas = (column: string) => `${column} @? $3::jsonpath`;

/** Audit entries (alias `r`) of tenant `$1` that name subject `$2`. */
export const AUDIT_SUBJECT_CONDITION = `r.tenant_id = $1::uuid AND (r.actor_id = $2 OR r.resource_id = $2 OR ${jsonHas('r.before_state')} OR ${jsonHas('r.after_state')} OR ${jsonHas('r.metadata')})`;

/** Why an entry matched, as a text[] of `actor`, `resource`, `data` (SQL over alias `r`). */
export const AUDIT_MATCHED_BY = `array_remove(ARRAY[
  CASE WHEN r.actor_id = $2 THEN 'actor' END,
  CASE WHEN r.resource_id = $2 THEN 'resource' END,
  CASE WHEN ${jsonHas('r.before_state')} OR ${jsonHas('r.after_state')} OR ${jsonHas('r.metadata')} THEN 'data' END
], NULL)`;

/** Alerts (alias `r`) of tenant `$1` about subject `$2`. */
export const ALERT_SUBJECT_CONDITION = `r.tenant_id = $1::uuid AND (r.user_id = $2 OR ${jsonHas('r.labels')})`;
