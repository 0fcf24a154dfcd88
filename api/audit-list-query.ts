/**
 * The SQL of a GET /v1/audit page: a tenant's entries, newest first, with format-2
 * entries' personal data (audit_personal_data, while not erased) where format-1 entries
 * have it. Kept apart from the route so a test can EXPLAIN exactly what the route sends.
 */

/** The filters of a page (the route's validated query). */
export interface AuditListFilters {
  cursor?: string;
  action?: string;
  actorType?: string;
  actorId?: string;
  resourceType?: string;
  resourceId?: string;
  since?: string;
  until?: string;
  /** Page size; one more row is read to tell whether a next page exists. */
  limit: number;
}

/** The two places a personal field can be: audit_log (format 1) or audit_personal_data (format 2). */
const PERSONAL_FILTERS = { actorId: 'actor_id', resourceId: 'resource_id' } as const;

export function auditListQuery(tenantId: string, q: AuditListFilters): { sql: string; params: unknown[] } {
  const params: unknown[] = [tenantId];
  const where = ['a.tenant_id = $1::uuid'];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (q.cursor) add((n) => `a.seq < ${n}::bigint`, q.cursor);
  if (q.action) add((n) => `a.action = ${n}`, q.action);
  if (q.actorType) add((n) => `a.actor_type = ${n}`, q.actorType);
  if (q.resourceType) add((n) => `a.resource_type = ${n}`, q.resourceType);
  for (const [field, column] of Object.entries(PERSONAL_FILTERS)) {
    const value = q[field as keyof typeof PERSONAL_FILTERS];
    // Not `a.x = v OR p.x = v`: an OR across the join can use neither table's
    // (tenant_id, x, seq) index and walks the whole tenant (issue 15, defect 9). The
    // seqs come from both indexes instead; an entry has the field in one place only.
    if (value)
      add(
        (n) =>
          `a.seq IN (SELECT seq FROM audit_log WHERE tenant_id = $1::uuid AND ${column} = ${n}
                      UNION ALL
                     SELECT seq FROM audit_personal_data WHERE tenant_id = $1::uuid AND ${column} = ${n})`,
        value,
      );
  }
  if (q.since) add((n) => `a.occurred_at >= ${n}::timestamptz`, q.since);
  if (q.until) add((n) => `a.occurred_at < ${n}::timestamptz`, q.until);
  params.push(q.limit + 1);
  const col = (c: string) => `coalesce(a.${c}, p.${c})`;
  const sql = `SELECT a.seq, a.event_id AS "eventId", a.occurred_at AS "occurredAt", a.recorded_at AS "recordedAt",
            a.actor_type AS "actorType", ${col('actor_id')} AS "actorId", a.action, a.resource_type AS "resourceType",
            ${col('resource_id')} AS "resourceId", ${col('before_state')} AS "beforeState",
            ${col('after_state')} AS "afterState", ${col('metadata')} AS metadata, ${col('reason')} AS reason,
            a.confidence::text AS confidence, ${col('request_id')} AS "requestId", ${col('ip')} AS ip,
            ${col('user_agent')} AS "userAgent", a.severity, a.hash
       FROM audit_log a LEFT JOIN audit_personal_data p ON p.tenant_id = a.tenant_id AND p.seq = a.seq
      WHERE ${where.join(' AND ')}
      ORDER BY a.seq DESC LIMIT $${params.length}`;
  return { sql, params };
}
