/**
 * The subject's rows, read out as NDJSON through a cursor (memory: one batch), inside
 * the caller's REPEATABLE READ snapshot (lib/backup/tenant-export.ts withSnapshot):
 * the audit entries that name the subject, in chain order, and the alerts about them,
 * in the order they were received. Which rows those are is subject-match.ts's rule.
 *
 * Each line is one JSON object in the API's field names (GET /v1/audit, GET /v1/alerts),
 * built by Postgres, plus `matchedBy` for audit entries. An entry whose actor is someone
 * else carries that actor's `ip` and `userAgent` as null, listed in `withheld`: they are
 * another person's data (GDPR art. 15(4)), not the subject's.
 */
import type pg from 'pg';
import type { PersonalField } from './fields.js';
import { ALERT_SUBJECT_CONDITION, auditMatchedBy, auditSubjectCondition, subjectParams } from './subject-match.js';

/** Rows fetched per round trip. Default: 1,000. */
export const EXPORT_BATCH_ROWS = 1000;

const auditLine = (fields: readonly PersonalField[]) => `json_build_object(
  'seq', r.seq::text, 'eventId', r.event_id, 'occurredAt', r.occurred_at, 'recordedAt', r.recorded_at,
  'actorType', r.actor_type, 'actorId', r.actor_id, 'action', r.action,
  'resourceType', r.resource_type, 'resourceId', r.resource_id,
  'before', r.before_state, 'after', r.after_state, 'metadata', r.metadata,
  'reason', r.reason, 'confidence', r.confidence, 'requestId', r.request_id,
  'ip', CASE WHEN r.actor_id = $2 THEN r.ip END,
  'userAgent', CASE WHEN r.actor_id = $2 THEN r.user_agent END,
  'severity', r.severity, 'prevHash', r.prev_hash, 'hash', r.hash,
  'matchedBy', ${auditMatchedBy(fields)},
  'withheld', CASE WHEN r.actor_id IS DISTINCT FROM $2 AND (r.ip IS NOT NULL OR r.user_agent IS NOT NULL)
                   THEN json_build_array('ip', 'userAgent') ELSE '[]'::json END
)::text`;

const ALERT_LINE = `json_build_object(
  'id', r.id, 'type', r.type, 'severity', r.severity, 'title', r.title, 'body', r.body,
  'labels', r.labels, 'runbookUrl', r.runbook_url, 'groupKey', r.group_key, 'userId', r.user_id,
  'occurredAt', r.occurred_at, 'receivedAt', r.received_at, 'outcome', r.outcome, 'reason', r.reason,
  'channel', r.channel, 'attempts', r.attempts, 'deliveredAt', r.delivered_at,
  'matchedBy', array_remove(ARRAY[CASE WHEN r.user_id = $2 THEN 'user' END,
                                  CASE WHEN r.labels @? $3::jsonpath THEN 'labels' END], NULL)
)::text`;

export type SubjectRowKind = 'audit' | 'alerts';

/** Which rows of one tenant an export reads: its subject, and the tenant's personal-data fields. */
export interface SubjectQuery {
  tenantId: string;
  subject: string;
  fields: readonly PersonalField[];
}

function queryOf(kind: SubjectRowKind, fields: readonly PersonalField[]) {
  return kind === 'audit'
    ? // (tenant_id, seq) is unique: the cursor walks that index in chain order, no sort.
      { from: 'audit_entries r', where: auditSubjectCondition(fields), line: auditLine(fields), order: 'r.seq' }
    : { from: 'alert_ledger r', where: ALERT_SUBJECT_CONDITION, line: ALERT_LINE, order: 'r.received_at, r.id' };
}

/** How many rows of each kind name the subject (in the client's snapshot). */
export async function countSubjectRows(
  client: pg.ClientBase,
  q: SubjectQuery,
): Promise<Record<SubjectRowKind, number>> {
  const count = async (k: SubjectRowKind) =>
    Number(
      (
        await client.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ${queryOf(k, q.fields).from} WHERE ${queryOf(k, q.fields).where}`,
          subjectParams(k, q.tenantId, q.subject),
        )
      ).rows[0]!.n,
    );
  return { audit: await count('audit'), alerts: await count('alerts') };
}

/**
 * The rows of one kind as NDJSON, one Buffer per batch (each line ends in `\n`).
 * `onRows` is told each batch's row count. The client must be inside a transaction.
 */
export async function* subjectRows(
  client: pg.ClientBase,
  kind: SubjectRowKind,
  which: SubjectQuery,
  onRows: (n: number) => void = () => undefined,
  batch = EXPORT_BATCH_ROWS,
): AsyncGenerator<Buffer> {
  const q = queryOf(kind, which.fields);
  const cursor = `bulwark_subject_${kind}`;
  await client.query(
    `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${q.line} AS j FROM ${q.from} WHERE ${q.where} ORDER BY ${q.order}`,
    subjectParams(kind, which.tenantId, which.subject),
  );
  try {
    for (;;) {
      const { rows } = await client.query<{ j: string }>(`FETCH ${batch} FROM ${cursor}`);
      if (rows.length === 0) return;
      onRows(rows.length);
      yield Buffer.from(`${rows.map((r) => r.j).join('\n')}\n`, 'utf8');
    }
  } finally {
    await client.query(`CLOSE ${cursor}`).catch(() => undefined);
  }
}
