/**
 * The database a restore writes into: its URL from `--into` (a URL, or a database name
 * on the configured server), whether it exists and holds anything, and creating or
 * replacing it through an admin connection to the server's `postgres` database.
 */
import pg from 'pg';
import type { Config } from '../config.js';
import { ValidationError } from '../errors.js';
import { databaseName, withDatabase } from './pg-tools.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

/**
 * `--into`: a postgres URL, or a database name on the server of DIRECT_DATABASE_URL (or
 * DATABASE_URL): a restore creates and drops databases, which a pooler cannot do.
 */
export function resolveTarget(config: Pick<Config, 'directDatabaseUrl'>, into: string): { url: string; name: string } {
  const url = /^postgres(ql)?:\/\//.test(into) ? into : withDatabase(config.directDatabaseUrl, into);
  const name = databaseName(url);
  if (!NAME.test(name))
    throw new ValidationError('restore target', [
      { path: 'into', message: 'must be a postgres URL or a database name (letters, digits, _ and -, at most 63)' },
    ]);
  return { url, name };
}

async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** undefined when the database does not exist, else how many relations it holds outside the system schemas. */
export async function targetState(url: string): Promise<number | undefined> {
  const name = databaseName(url);
  const exists = await onServer(
    url,
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount,
  );
  if (!exists) return undefined;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const r = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`,
    );
    return r.rows[0]!.n;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const createDatabase = (url: string) =>
  onServer(url, async (c) => void (await c.query(`CREATE DATABASE ${pg.escapeIdentifier(databaseName(url))}`)));

/** Drop (ending its sessions) and create it again, empty. */
export const recreateDatabase = (url: string) =>
  onServer(url, async (c) => {
    const id = pg.escapeIdentifier(databaseName(url));
    await c.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${id}`);
  });

export const dropDatabase = (url: string) =>
  onServer(
    url,
    async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(databaseName(url))} WITH (FORCE)`)),
  );
