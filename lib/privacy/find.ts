/**
 * Finding what names a subject in one tenant's data, in SQL, by the rule of
 * lib/privacy/fields.ts (a text field equal to the subject, or any string value at any
 * depth of before/after/metadata equal to it): audit entries not erased yet (format 1 in
 * audit_log, format 2 in audit_personal_data), alert ledger rows and the object keys
 * those entries name.
 */
import type { PrismaClient } from '../clients/prisma.js';
import { JSON_PERSONAL_FIELDS, PERSONAL_COLUMNS, type PersonalField } from './fields.js';

/** One audit entry naming the subject, with what erasure and the hold check need. */
export interface FoundEntry {
  seq: string;
  hash: string;
  prevHash: string;
  format: 1 | 2;
  actorId: string | null;
  resourceType: string;
  resourceId: string | null;
  /** Every string value of its personal fields (object keys are looked for among them). */
  strings: string[];
}

/**
 * A WHERE fragment true when the row (alias) names the subject (`subjectParam`). JSON
 * columns are first searched as text for `needleParam` (jsonNeedle(subject): the subject
 * as it appears inside a JSON string), which rules out almost every row at a third of
 * the cost of the exact JSON path test that follows.
 */
export function subjectPredicate(
  alias: string,
  fields: readonly PersonalField[],
  subjectParam: string,
  needleParam: string,
): string {
  return fields
    .map((f) => {
      const col = `${alias}.${PERSONAL_COLUMNS[f]}`;
      return JSON_PERSONAL_FIELDS.has(f)
        ? `(strpos(${col}::text, ${needleParam}) > 0 AND jsonb_path_exists(${col}, 'strict $.** ? (@ == $s)', jsonb_build_object('s', ${subjectParam}::text)))`
        : `${col} = ${subjectParam}`;
    })
    .join(' OR ');
}

/** The subject as Postgres writes it inside a JSON string (jsonb's text form escapes as JSON.stringify does). */
export function jsonNeedle(subject: string): string {
  return JSON.stringify(subject).slice(1, -1);
}

/** Text of every string in a row's personal fields: where object keys are looked for. */
function stringsSql(alias: string, fields: readonly PersonalField[]): string {
  const parts = fields.map((f) => {
    const col = `${alias}.${PERSONAL_COLUMNS[f]}`;
    return JSON_PERSONAL_FIELDS.has(f)
      ? `coalesce((SELECT array_agg(v #>> '{}') FROM jsonb_path_query(${col}, 'strict $.** ? (@.type() == "string")') AS v), '{}')`
      : `array_remove(ARRAY[${col}::text], NULL)`;
  });
  return parts.join(' || ');
}

interface Row {
  seq: string;
  hash: string;
  prev_hash: string;
  format: number;
  actor_id: string | null;
  resource_type: string;
  resource_id: string | null;
  strings: string[];
}

/**
 * The tenant's entries naming `subject` that are not erased yet, in seq order.
 * @param fields the tenant's personal fields (personalFieldsFor).
 */
export async function findEntries(
  prisma: PrismaClient,
  tenantId: string,
  subject: string,
  fields: readonly PersonalField[],
): Promise<FoundEntry[]> {
  const notErased = `NOT EXISTS (SELECT 1 FROM audit_erasures e WHERE e.tenant_id = $1::uuid AND e.seq = t.seq)`;
  // First the seqs alone (each search a plain scan of one table), then what erasure
  // needs of those few: one statement doing both was planned far worse.
  const seqsOf = async (sql: string) =>
    (await prisma.$queryRawUnsafe<Array<{ seq: string }>>(sql, tenantId, subject, jsonNeedle(subject))).map(
      (r) => r.seq,
    );
  const f1 = await seqsOf(
    `SELECT t.seq::text FROM audit_log t
      WHERE t.tenant_id = $1::uuid AND t.format = 1 AND (${subjectPredicate('t', fields, '$2', '$3')}) AND ${notErased}`,
  );
  const f2 = await seqsOf(
    `SELECT t.seq::text FROM audit_personal_data t
      WHERE t.tenant_id = $1::uuid AND (${subjectPredicate('t', fields, '$2', '$3')}) AND ${notErased}`,
  );
  if (f1.length + f2.length === 0) return [];
  const rows = await prisma.$queryRawUnsafe<Row[]>(
    `SELECT a.seq::text, a.hash, a.prev_hash, a.format::int AS format, a.actor_id, a.resource_type, a.resource_id,
            ${stringsSql('a', fields)} AS strings
       FROM audit_log a WHERE a.tenant_id = $1::uuid AND a.seq = ANY($2::bigint[])
     UNION ALL
     SELECT a.seq::text, a.hash, a.prev_hash, 2, p.actor_id, a.resource_type, coalesce(a.resource_id, p.resource_id),
            ${stringsSql('p', fields)}
       FROM audit_personal_data p JOIN audit_log a ON a.tenant_id = p.tenant_id AND a.seq = p.seq
      WHERE p.tenant_id = $1::uuid AND p.seq = ANY($3::bigint[])`,
    tenantId,
    f1,
    f2,
  );
  return rows
    .map((r) => ({
      seq: r.seq,
      hash: r.hash,
      prevHash: r.prev_hash,
      format: r.format === 2 ? (2 as const) : (1 as const),
      actorId: r.actor_id,
      resourceType: r.resource_type,
      resourceId: r.resource_id,
      strings: r.strings ?? [],
    }))
    .sort((x, y) => (BigInt(x.seq) < BigInt(y.seq) ? -1 : 1));
}

/** Alert ledger rows of the tenant naming the subject (user id, labels, or inside title, body, errors). */
export const ALERT_MATCH_SQL = `l.tenant_id = $1::uuid AND (
     l.user_id = $2
  OR strpos(l.title, $2) > 0 OR strpos(coalesce(l.body, ''), $2) > 0 OR strpos(l.group_key, $2) > 0
  OR strpos(coalesce(l.last_error, ''), $2) > 0
  OR (l.labels IS NOT NULL AND jsonb_path_exists(l.labels, 'strict $.** ? (@ == $s)', jsonb_build_object('s', $2::text)))
  OR EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = l.id AND strpos(coalesce(d.last_error, ''), $2) > 0))`;

/** An alert ledger row naming the subject. */
export interface FoundAlert {
  id: string;
  userId: string | null;
}

/** The alert ledger rows naming the subject. */
export async function findAlerts(prisma: PrismaClient, tenantId: string, subject: string): Promise<FoundAlert[]> {
  return prisma.$queryRawUnsafe<FoundAlert[]>(
    `SELECT l.id::text, l.user_id AS "userId" FROM alert_ledger l WHERE ${ALERT_MATCH_SQL} ORDER BY l.id`,
    tenantId,
    subject,
  );
}
