/**
 * Which chains a verify run covers: every tenant of `tenants`, and every tenant id that
 * has rows in `audit_log` or a row in `audit_chain_heads` but no `tenants` row. Both
 * tables reference `tenants` with ON DELETE RESTRICT, so such a chain exists only after
 * someone bypassed the foreign keys (a superuser with `session_replication_role =
 * replica`): listing `tenants` alone would skip exactly the chain that was tampered with.
 */
import type { PrismaClient } from '../clients/prisma.js';

export interface ChainOwner {
  /** The tenant id as Postgres prints `uuid::text` (lower case). */
  id: string;
  /** The id has a row in `tenants`. */
  hasRow: boolean;
  /** The id has a chain head or at least one entry. */
  hasChain: boolean;
}

/**
 * Every id, in uuid order, in one statement (one snapshot). The distinct tenant ids of
 * `audit_log` come from a "loose index scan": a recursive CTE that jumps from one
 * tenant id to the next through an index on `tenant_id` (the `(tenant_id, seq)` unique
 * index or another that leads with `tenant_id`), one index probe per tenant, never a
 * scan of the log.
 */
const ALL_SQL = `WITH RECURSIVE logged(tenant_id) AS (
    (SELECT tenant_id FROM audit_log ORDER BY tenant_id LIMIT 1)
    UNION ALL
    SELECT (SELECT a.tenant_id FROM audit_log a WHERE a.tenant_id > l.tenant_id ORDER BY a.tenant_id LIMIT 1)
      FROM logged l WHERE l.tenant_id IS NOT NULL
  ), ids(id, has_row, has_chain) AS (
    SELECT id, true, false FROM tenants
    UNION ALL SELECT tenant_id, false, true FROM audit_chain_heads
    UNION ALL SELECT tenant_id, false, true FROM logged WHERE tenant_id IS NOT NULL
  )
SELECT id::text AS id, bool_or(has_row) AS has_row, bool_or(has_chain) AS has_chain
  FROM ids GROUP BY id ORDER BY id`;

const ONE_SQL = `SELECT $1::uuid::text AS id,
       EXISTS (SELECT 1 FROM tenants WHERE id = $1::uuid) AS has_row,
       EXISTS (SELECT 1 FROM audit_chain_heads WHERE tenant_id = $1::uuid)
         OR EXISTS (SELECT 1 FROM audit_log WHERE tenant_id = $1::uuid) AS has_chain`;

/**
 * The chains to verify: every id (see ALL_SQL), or just `tenantId` (one element, which
 * says whether the id has a tenants row and whether it has a chain at all).
 */
export async function listChainOwners(prisma: PrismaClient, tenantId?: string): Promise<ChainOwner[]> {
  const rows = tenantId
    ? await prisma.$queryRawUnsafe<Array<{ id: string; has_row: boolean; has_chain: boolean }>>(ONE_SQL, tenantId)
    : await prisma.$queryRawUnsafe<Array<{ id: string; has_row: boolean; has_chain: boolean }>>(ALL_SQL);
  return rows.map((r) => ({ id: r.id, hasRow: r.has_row, hasChain: r.has_chain }));
}

/** The rows of `tenantId` in `audit_log`, beyond the head too (for the tenant check's detail). */
export async function countEntries(prisma: PrismaClient, tenantId: string): Promise<number> {
  const [row] = await prisma.$queryRawUnsafe<Array<{ n: string }>>('SELECT count(*)::text AS n FROM audit_log WHERE tenant_id = $1::uuid', tenantId);
  return Number(row?.n ?? 0);
}
