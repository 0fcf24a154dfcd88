/**
 * What a data subject is, and which rows name one: the one place the subject export
 * (export*.ts) decides "this row is about the subject":
 *
 * - an audit entry names the subject when its `resource_id` is the subject, or when one
 *   of the tenant's personal-data fields (lib/privacy/fields.ts: actor id, ip, user
 *   agent, and the subject as a string value anywhere inside before/after/metadata,
 *   plus the tenant's additions) holds it: erasure's rule (find.ts), plus the resource;
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
import type { PersonalField } from './fields.js';
import { jsonNeedle, subjectPredicate } from './find.js';

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

/**
 * What a query over one kind of row binds: `$1` tenant id, `$2` subject, and `$3` for
 * audit entries the subject as written inside JSON text (find.ts), for alerts its jsonpath.
 */
export function subjectParams(kind: 'audit' | 'alerts', tenantId: string, subject: string): [string, string, string] {
  return [tenantId, subject, kind === 'audit' ? jsonNeedle(checkSubject(subject)) : subjectJsonPath(subject)];
}

/**
 * Audit entries (alias `r`, read through the `audit_entries` view so a format-2 entry's
 * personal data is where a format-1 entry has it) of tenant `$1` that name subject `$2`:
 * as the resource, or in any of the tenant's personal-data fields (fields.ts), the same
 * rule erasure finds by (find.ts).
 */
export function auditSubjectCondition(fields: readonly PersonalField[]): string {
  return `r.tenant_id = $1::uuid AND (r.resource_id = $2 OR ${subjectPredicate('r', fields, '$2', '$3')})`;
}

/** Why an entry matched, as a text[] of `actor`, `resource`, `data` (SQL over alias `r`). */
export function auditMatchedBy(fields: readonly PersonalField[]): string {
  const data = fields.filter((f) => f !== 'actorId' && f !== 'resourceId');
  return `array_remove(ARRAY[
  CASE WHEN r.actor_id = $2 THEN 'actor' END,
  CASE WHEN r.resource_id = $2 THEN 'resource' END,
  CASE WHEN ${data.length ? subjectPredicate('r', data, '$2', '$3') : 'false'} THEN 'data' END
], NULL)`;
}

/** Alerts (alias `r`) of tenant `$1` about subject `$2` (`$3`: its jsonpath). */
export const ALERT_SUBJECT_CONDITION = `r.tenant_id = $1::uuid AND (r.user_id = $2 OR r.labels @? $3::jsonpath)`;
