/**
 * The SQL of each row class: where its rows are, which time makes them expire, which
 * id goes into the receipt's digest, and which legal holds cover a row. $1 is always
 * the tenant id and $2 the cutoff. Every class is found through an index on its tenant
 * and time (migration 20261206500000; secret rotations 20261209200000), so a run reads
 * what expired, not what is kept.
 */
import type { RowClass } from './classes.js';

export interface RowClassSql {
  /** FROM clause, row alias `a`. */
  from: string;
  /** The row's tenant is $1. */
  tenant: string;
  /** The row expired before the cutoff $2 (index-friendly). */
  expired: string;
  /** The moment the row's TTL counts from. */
  time: string;
  /** The text that identifies the row in the receipt's digest. */
  id: string;
  /** The deleted row's key in `DELETE ... USING doomed d WHERE <deleteKey>`, table alias `t`. */
  deleteKey: string;
  /** What, besides a tenant-wide hold, a hold `h` covers. */
  holdMatch: string;
  table: string;
}

const audit = (security: boolean): RowClassSql => ({
  table: 'audit_log',
  from: 'audit_log a',
  tenant: 'a.tenant_id = $1::uuid',
  expired: `a.occurred_at < $2::timestamptz AND (a.action LIKE 'security:%') = ${security}`,
  time: 'a.occurred_at',
  id: 'a.hash',
  deleteKey: 't.id = d.id',
  // A format-2 entry's actor and resource id may be in audit_personal_data (as audit_purge() reads them).
  holdMatch: `(h.scope = 'actor' AND h.actor_id = coalesce(a.actor_id, (SELECT p.actor_id FROM audit_personal_data p WHERE p.tenant_id = a.tenant_id AND p.seq = a.seq)))
    OR (h.scope = 'resource' AND h.resource_type = a.resource_type AND h.resource_id = coalesce(a.resource_id, (SELECT p.resource_id FROM audit_personal_data p WHERE p.tenant_id = a.tenant_id AND p.seq = a.seq)))`,
});

export const ROW_CLASS_SQL: Record<RowClass, RowClassSql> = {
  audit: audit(false),
  'audit:security': audit(true),
  // Deliveries go with their ledger row (ON DELETE CASCADE).
  alerts: {
    table: 'alert_ledger',
    from: 'alert_ledger a',
    tenant: 'a.tenant_id = $1::uuid',
    expired: 'a.received_at < $2::timestamptz',
    time: 'a.received_at',
    id: 'a.id::text',
    deleteKey: 't.id = d.id',
    holdMatch: `(h.scope = 'actor' AND h.actor_id = a.user_id) OR (h.scope = 'resource' AND h.resource_type = 'alert' AND h.resource_id = a.id::text)`,
  },
  // A key's end is its revocation or its expiry, whichever came first.
  apikeys: {
    table: 'api_keys',
    from: 'api_keys a',
    tenant: 'a.tenant_id = $1::uuid',
    expired: '(a.expires_at < $2::timestamptz OR a.revoked_at < $2::timestamptz)',
    time: 'least(a.expires_at, coalesce(a.revoked_at, a.expires_at))',
    id: 'a.id::text',
    deleteKey: 't.id = d.id',
    holdMatch: `(h.scope = 'resource' AND h.resource_type = 'api_key' AND h.resource_id = a.id::text)`,
  },
  'secret-rotations': {
    table: 'secret_rotations',
    // The rotation's own tenant_id, so (tenant_id, rotated_at) finds the expired ones; the
    // secret is joined for the holds on it.
    from: 'secret_rotations a JOIN secrets s ON s.id = a.secret_id',
    tenant: 'a.tenant_id = $1::uuid',
    expired: 'a.rotated_at < $2::timestamptz',
    time: 'a.rotated_at',
    id: 'a.id::text',
    deleteKey: 't.id = d.id',
    holdMatch: `(h.scope = 'resource' AND h.resource_type = 'secret' AND h.resource_id IN (s.id::text, s.name))`,
  },
};

/** The holds in force for tenant $1, alias h, that cover row a. */
export function holdCovers(c: RowClassSql): string {
  return `h.tenant_id = $1::uuid AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now()) AND (h.scope = 'all' OR ${c.holdMatch})`;
}

/** Expired rows of tenant $1 before $2 that no hold keeps. */
export function deletableWhere(c: RowClassSql): string {
  return `${c.tenant} AND ${c.expired} AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE ${holdCovers(c)})`;
}
