/**
 * One tenant's data, read out: its rows of every tenant-scoped table (tenant-tables.ts)
 * as NDJSON, one `row_to_json` object per line, in primary-key order, all tables in
 * one REPEATABLE READ snapshot, through a cursor (memory: one batch of rows), and the
 * keys of its objects under `tenant/{id}/`. Tenant backups (tenant.ts) encrypt and
 * upload what this yields; a subject export (GDPR art. 15, issue 18) can call the same
 * functions with a `where` narrowing the rows to one data subject.
 *
 * NDJSON values are Postgres's own JSON for each column (timestamps with their offset,
 * numerics as written, jsonb as objects, arrays as arrays), so a restore hands the
 * lines back to Postgres (`json_populate_record`) and gets the same rows, bit for bit.
 */
import pg from 'pg';
import { NotFoundError } from '../errors.js';
import { tenantRowsSql, tenantTables, type TenantTable } from './tenant-tables.js';

export interface TenantExportOptions {
  /**
   * Narrow a table's rows (SQL over its alias `r`; parameters from `$2`), or `false` to
   * leave the table out. Default: every row of every tenant-scoped table.
   */
  where?: (table: TenantTable) => { sql: string; params: unknown[] } | false | undefined;
  /** Rows fetched per round trip (default 1,000). */
  batchRows?: number;
}

/** What the sink is handed for each table: its NDJSON, chunk by chunk (one chunk per batch). */
export type TenantTableSink = (table: TenantTable, ndjson: AsyncIterable<Buffer>) => Promise<void>;

/**
 * Run `fn` on a connection in a read-only REPEATABLE READ transaction (one snapshot for
 * every table). Everything happens inside the transaction (the timeout is `SET LOCAL`,
 * the cursors die with it), so this works through PgBouncer's transaction pooling too.
 */
export async function withSnapshot<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined); // a dropped connection fails the query in flight instead
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // The transaction waits while parts upload: a server-wide idle timeout must not end it.
    await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** NotFoundError unless the tenant exists (in the client's snapshot). */
export async function assertTenant(client: pg.ClientBase, tenantId: string): Promise<void> {
  const found = await client.query('SELECT 1 FROM tenants WHERE id = $1::uuid', [tenantId]);
  if (!found.rowCount) throw new NotFoundError(`no tenant ${tenantId} in the database`);
}

/**
 * Export one tenant's rows, table by table in load order, through `sink`; returns the
 * row count of each table. The client must be inside a transaction (withSnapshot).
 */
export async function exportTenantRows(
  client: pg.ClientBase,
  tenantId: string,
  sink: TenantTableSink,
  o: TenantExportOptions = {},
): Promise<Record<string, number>> {
  await assertTenant(client, tenantId);
  const { tables } = await tenantTables(client);
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const narrowed = o.where?.(table);
    if (narrowed === false) continue;
    counts[table.name] = 0;
    const rows = tableLines(client, table, tenantId, narrowed, o.batchRows ?? 1000, (n) => (counts[table.name]! += n));
    // The sink reads the rows to the end (the count is complete when it returns).
    await sink(table, rows);
  }
  return counts;
}

async function* tableLines(
  client: pg.ClientBase,
  table: TenantTable,
  tenantId: string,
  where: { sql: string; params: unknown[] } | undefined,
  batch: number,
  count: (n: number) => void,
): AsyncGenerator<Buffer> {
  const order = table.key.map((c) => `r.${pg.escapeIdentifier(c)}`).join(', ');
  const sql = `${tenantRowsSql(table, 'row_to_json(r)::text AS j', where?.sql)} ORDER BY ${order}`;
  await client.query(`DECLARE bulwark_tenant_export NO SCROLL CURSOR FOR ${sql}`, [tenantId, ...(where?.params ?? [])]);
  try {
    for (;;) {
      const { rows } = await client.query<{ j: string }>(`FETCH ${batch} FROM bulwark_tenant_export`);
      if (rows.length === 0) return;
      count(rows.length);
      yield Buffer.from(`${rows.map((r) => r.j).join('\n')}\n`, 'utf8');
    }
  } finally {
    await client.query('CLOSE bulwark_tenant_export').catch(() => undefined);
  }
}
