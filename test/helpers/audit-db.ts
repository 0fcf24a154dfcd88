/** Read-side checks on audit_log, run as the superuser straight against the test database. */
import { superuserQuery } from './db.js';

export interface ChainStats {
  rows: number;
  distinctEvents: number;
  distinctSeqs: number;
  minSeq: number;
  maxSeq: number;
}

/** Row count, distinct eventIds and seqs, and the seq range of one tenant's chain. */
export async function chainStats(dbUrl: string, tenantId: string): Promise<ChainStats> {
  const { rows } = await superuserQuery(
    dbUrl,
    `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS events, count(DISTINCT seq)::int AS seqs,
            coalesce(min(seq), 0)::int AS min, coalesce(max(seq), 0)::int AS max
       FROM audit_log WHERE tenant_id = $1`,
    [tenantId],
  );
  const r = rows[0];
  return { rows: r.rows, distinctEvents: r.events, distinctSeqs: r.seqs, minSeq: r.min, maxSeq: r.max };
}

/** Rows in audit_log (all tenants). */
export async function countRows(dbUrl: string): Promise<number> {
  return (await superuserQuery(dbUrl, 'SELECT count(*)::int AS n FROM audit_log')).rows[0].n;
}

/** Every stored eventId of a tenant. */
export async function storedEventIds(dbUrl: string, tenantId: string): Promise<string[]> {
  return (await superuserQuery(dbUrl, 'SELECT event_id FROM audit_log WHERE tenant_id = $1', [tenantId])).rows.map(
    (r) => r.event_id as string,
  );
}

/** The chain is exactly 1..n, one row per eventId, and holds exactly `expected` eventIds. */
export async function assertExactChain(dbUrl: string, tenantId: string, expected: string[]): Promise<void> {
  const s = await chainStats(dbUrl, tenantId);
  const n = expected.length;
  const want = { rows: n, distinctEvents: n, distinctSeqs: n, minSeq: n ? 1 : 0, maxSeq: n };
  if (JSON.stringify(s) !== JSON.stringify(want)) {
    throw new Error(`tenant ${tenantId}: chain stats ${JSON.stringify(s)}, expected ${JSON.stringify(want)}`);
  }
  const stored = new Set(await storedEventIds(dbUrl, tenantId));
  const missing = expected.filter((e) => !stored.has(e));
  if (missing.length > 0)
    throw new Error(`tenant ${tenantId}: ${missing.length} eventIds missing, e.g. ${missing.slice(0, 3).join(', ')}`);
}
