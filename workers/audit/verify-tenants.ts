/**
 * Which chains a verify run covers: every tenant of `tenants`, and every tenant id that
 * has rows in `audit_log` or a row in `audit_chain_heads` but no `tenants` row. Both
 * tables reference `tenants` with ON DELETE RESTRICT, so such a chain exists only after
 * someone bypassed the foreign keys (a superuser with `session_replication_role =
 * replica`): listing `tenants` alone would skip exactly the chain that was tampered with.
 */
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { TenantVerification } from './verify.js';

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
  ), ids(id) AS (
    SELECT id FROM tenants
    UNION SELECT tenant_id FROM audit_chain_heads
    UNION SELECT tenant_id FROM logged WHERE tenant_id IS NOT NULL
  )
SELECT i.id::text AS id,
       EXISTS (SELECT 1 FROM tenants t WHERE t.id = i.id) AS has_row,
       EXISTS (SELECT 1 FROM audit_chain_heads h WHERE h.tenant_id = i.id)
         OR EXISTS (SELECT 1 FROM audit_log a WHERE a.tenant_id = i.id) AS has_chain
  FROM ids i ORDER BY i.id`;

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

/**
 * A chain whose tenant row is gone fails check 0, **tenant**, at seq 1, before its head
 * is read: its chain is not walked (the foreign keys were bypassed for it, so nothing
 * of it is vouched for). The detail counts its rows in `audit_log`, beyond the head too.
 */
export async function verifyOwnerlessChain(prisma: PrismaClient, tenantId: string): Promise<TenantVerification> {
  const [row] = await prisma.$queryRawUnsafe<Array<{ n: string }>>('SELECT count(*)::text AS n FROM audit_log WHERE tenant_id = $1::uuid', tenantId);
  const n = row?.n ?? '0';
  return {
    tenantId,
    entries: 0,
    ok: false,
    firstBad: { seq: '1', problem: 'tenant', detail: `the tenant's row is missing from tenants (${n} entr${n === '1' ? 'y' : 'ies'})` },
  };
}
