/**
 * The facts a database backup's manifest records, read in the same snapshot that
 * pg_dump dumps: a REPEATABLE READ transaction exports its snapshot, pg_dump runs with
 * `--snapshot`, and the row counts and audit chain heads are read in the transaction,
 * so they describe exactly the rows in the dump (writes go on meanwhile). The
 * transaction stays open until pg_dump is done with the snapshot.
 */
import pg from 'pg';
import { requireDirect } from '../db/pooler.js';

export interface DatabaseFacts {
  postgresVersion: string;
  migrations: Array<{ name: string; checksum: string }>;
  tables: Record<string, number>;
  auditChainHeads: Array<{ tenantId: string; seq: string; hash: string }>;
}

/** The server's version and the applied migrations (what every manifest records). */
export async function readServerFacts(
  client: pg.Client | pg.PoolClient,
): Promise<Pick<DatabaseFacts, 'postgresVersion' | 'migrations'>> {
  const version = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  const hasMigrations = (await client.query(`SELECT to_regclass('public."_prisma_migrations"') AS t`)).rows[0]?.t;
  const migrations = hasMigrations
    ? (
        await client.query<{ name: string; checksum: string }>(
          `SELECT migration_name AS name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
        )
      ).rows
    : [];
  return { postgresVersion: version.rows[0]!.v, migrations };
}

/** Facts readable through any client (also used on a restored database to compare). */
export async function readFacts(client: pg.Client | pg.PoolClient, tenantId?: string): Promise<DatabaseFacts> {
  const { postgresVersion, migrations } = await readServerFacts(client);
  const names = (
    await client.query<{ t: string }>(
      `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
    )
  ).rows.map((r) => r.t);
  const tables: Record<string, number> = {};
  for (const t of names) {
    const r = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${pg.escapeIdentifier(t)}`);
    tables[t] = Number(r.rows[0]!.n);
  }
  const heads = names.includes('audit_chain_heads')
    ? (
        await client.query<{ tenant_id: string; seq: string; hash: string }>(
          `SELECT tenant_id::text, last_seq::text AS seq, last_hash AS hash FROM audit_chain_heads ${tenantId ? 'WHERE tenant_id = $1::uuid' : ''} ORDER BY tenant_id`,
          tenantId ? [tenantId] : [],
        )
      ).rows
    : [];
  return {
    postgresVersion,
    migrations,
    tables,
    auditChainHeads: heads.map((h) => ({ tenantId: h.tenant_id, seq: h.seq, hash: h.hash })),
  };
}

export interface Snapshot {
  id: string;
  client: pg.Client;
  /** End the transaction and the connection (after pg_dump has taken the snapshot). */
  release(): Promise<void>;
}

/** Open a read-only REPEATABLE READ transaction and export its snapshot. */
export async function openSnapshot(databaseUrl: string): Promise<Snapshot> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  // A dropped connection must fail the backup, not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    // Through a pooler, the session settings below and pg_dump's own would land on
    // sessions other clients share (and leak into them).
    await requireDirect(client, 'a database backup', 'DIRECT_DATABASE_URL');
    // The session waits idle in its transaction while pg_dump works: a server-wide
    // idle timeout would end it and with it the snapshot.
    await client.query('SET idle_in_transaction_session_timeout = 0');
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const id = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    return {
      id,
      client,
      release: async () => {
        await client.query('COMMIT').catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}
