/**
 * Which tables hold a tenant's rows, read from the database's own catalog so a table
 * added by a later migration is covered without a list to keep up to date:
 *
 * - `tenants` itself (the row whose `id` is the tenant);
 * - every table with a `tenant_id` column (settings, chain head, audit log, secrets as
 *   Fernet ciphertext, API key hashes, channels, ledger, holds, receipts, gaps, …);
 * - every table without one whose foreign key points at such a table (a secret's
 *   rotations, an alert's deliveries): its rows belong to the tenant of the row they
 *   point at, found through that key, one level or more.
 *
 * Every other table (`restore_drills`, `_prisma_migrations`) is not a tenant's: a tenant
 * backup leaves it out and names it in `GLOBAL_TABLES`, which a test keeps honest.
 */
import pg from 'pg';

/** Tables that hold no tenant's data; a table neither tenant-scoped nor listed here fails the coverage test. */
export const GLOBAL_TABLES: readonly string[] = ['_prisma_migrations', 'restore_drills'];

export interface TenantTable {
  name: string;
  /** The columns in catalog order (the NDJSON objects' keys). */
  columns: string[];
  /** Primary key columns: rows are exported in this order. */
  key: string[];
  /**
   * How a row is the tenant's: its own column, or a foreign key to a row of a parent
   * table that is (`column` → `parent.refColumn`).
   */
  scope: { column: string } | { column: string; parent: string; refColumn: string };
  /** The SQL condition (over alias `r`, tenant id `$1`) that picks the tenant's rows. */
  condition: string;
}

export interface TenantTables {
  /** In load order: every table after the tables its foreign keys point at. */
  tables: TenantTable[];
  /** Tables of the database that hold no tenant's rows. */
  others: string[];
}

const q = pg.escapeIdentifier;

export async function tenantTables(client: pg.ClientBase): Promise<TenantTables> {
  const columns = (
    await client.query<{ t: string; c: string }>(
      `SELECT c.table_name AS t, c.column_name AS c FROM information_schema.columns c
         JOIN pg_tables p ON p.tablename = c.table_name AND p.schemaname = c.table_schema
        WHERE c.table_schema = 'public' ORDER BY c.table_name, c.ordinal_position`,
    )
  ).rows;
  const keys = (
    await client.query<{ t: string; c: string }>(
      `SELECT rel.relname AS t, a.attname AS c
         FROM pg_constraint k JOIN pg_class rel ON rel.oid = k.conrelid
         JOIN pg_namespace n ON n.oid = rel.relnamespace
         JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord) ON true
         JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum = u.attnum
        WHERE k.contype = 'p' AND n.nspname = 'public' ORDER BY rel.relname, u.ord`,
    )
  ).rows;
  // Single-column foreign keys between public tables: child.column → parent.refColumn.
  const fks = (
    await client.query<{ child: string; column: string; parent: string; ref: string }>(
      `SELECT c.relname AS child, ca.attname AS column, p.relname AS parent, pa.attname AS ref
         FROM pg_constraint k
         JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
         JOIN pg_class p ON p.oid = k.confrelid
         JOIN pg_attribute ca ON ca.attrelid = c.oid AND ca.attnum = k.conkey[1]
         JOIN pg_attribute pa ON pa.attrelid = p.oid AND pa.attnum = k.confkey[1]
        WHERE k.contype = 'f' AND cn.nspname = 'public' AND cardinality(k.conkey) = 1
        ORDER BY c.relname, ca.attname`,
    )
  ).rows;
  const colsOf = new Map<string, string[]>();
  for (const r of columns) colsOf.set(r.t, [...(colsOf.get(r.t) ?? []), r.c]);
  const keyOf = new Map<string, string[]>();
  for (const r of keys) keyOf.set(r.t, [...(keyOf.get(r.t) ?? []), r.c]);

  const scoped = new Map<string, TenantTable>();
  const add = (name: string, scope: TenantTable['scope']) => {
    // Through a parent: the row's key is among the keys of the parent's rows of the tenant.
    const condition =
      'parent' in scope
        ? `r.${q(scope.column)} IN (SELECT ${q(scope.refColumn)} FROM ${q(scope.parent)} r WHERE ${scoped.get(scope.parent)!.condition})`
        : `r.${q(scope.column)} = $1::uuid`;
    scoped.set(name, { name, columns: colsOf.get(name)!, key: keyOf.get(name) ?? colsOf.get(name)!, scope, condition });
  };
  if (colsOf.has('tenants')) add('tenants', { column: 'id' });
  for (const [name, cols] of colsOf)
    if (name !== 'tenants' && cols.includes('tenant_id')) add(name, { column: 'tenant_id' });
  // Children through foreign keys, until nothing new is found.
  for (let grew = true; grew;) {
    grew = false;
    for (const fk of fks) {
      if (scoped.has(fk.child) || !scoped.has(fk.parent) || fk.parent === fk.child) continue;
      add(fk.child, { column: fk.column, parent: fk.parent, refColumn: fk.ref });
      grew = true;
    }
  }
  // Load order: a table after every tenant table its foreign keys point at.
  const ordered: TenantTable[] = [];
  const placed = new Set<string>();
  const visit = (name: string, path: Set<string>) => {
    if (placed.has(name) || path.has(name)) return;
    path.add(name);
    for (const fk of fks) if (fk.child === name && scoped.has(fk.parent)) visit(fk.parent, path);
    placed.add(name);
    ordered.push(scoped.get(name)!);
  };
  for (const name of [...scoped.keys()].sort()) visit(name, new Set());
  return { tables: ordered, others: [...colsOf.keys()].filter((t) => !scoped.has(t)).sort() };
}

/**
 * The SQL selecting one tenant's rows of a table (`$1` is the tenant id), optionally
 * narrowed by `where` (SQL over the table's alias `r`, its parameters from `$2`).
 */
export function tenantRowsSql(table: TenantTable, select: string, where?: string): string {
  return `SELECT ${select} FROM ${q(table.name)} r WHERE ${table.condition}${where ? ` AND (${where})` : ''}`;
}
