/**
 * The scratch database a restore drill restores into: on the same server as
 * DATABASE_URL, named after it (`<database>_drill_<backup id>`), created empty and
 * dropped afterwards, also when the drill fails. Scratch databases left by a drill that
 * crashed are dropped by the next one (under the upkeep lock, so never a running one's).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

/** Postgres truncates identifiers past 63 bytes: names are made to fit instead. */
const NAME_MAX = 63;
const SUFFIX = '_drill_';

/** The part every scratch name of this database starts with (ASCII, at most 40 characters). */
export function scratchPrefix(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const safe = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  // A long or non-ASCII name is shortened with a digest, so two databases never share a prefix.
  const base =
    safe.length <= 40 && safe === name
      ? safe
      : `${safe.slice(0, 31)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  return `${base}${SUFFIX}`;
}

/** The scratch database name for one backup (at most 63 characters). */
export function scratchName(databaseUrl: string, backupId: string): string {
  const name = `${scratchPrefix(databaseUrl)}${backupId.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
  return name.slice(0, NAME_MAX);
}

/** DATABASE_URL with another database name (same server, user and options). */
export function urlOfDatabase(databaseUrl: string, database: string): string {
  const u = new URL(databaseUrl);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Run `fn` on a connection of its own to the server's maintenance database (CREATE/DROP DATABASE cannot run in the target). */
async function onServer<T>(databaseUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: urlOfDatabase(databaseUrl, 'postgres'),
    connectionTimeoutMillis: 5000,
  });
  client.on('error', () => undefined); // a dropped connection fails the query below instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createScratch(databaseUrl: string, name: string): Promise<void> {
  await onServer(databaseUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
}

/** Drop one scratch database, closing any session still in it (FORCE, Postgres 13+). */
export async function dropScratch(databaseUrl: string, name: string): Promise<void> {
  await onServer(databaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}

/** Drop every scratch database of this database left by earlier drills; returns their names. */
export async function dropLeftoverScratches(databaseUrl: string): Promise<string[]> {
  const prefix = scratchPrefix(databaseUrl);
  return onServer(databaseUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname`,
      [prefix],
    );
    // Only names a drill makes (prefix + a backup id): never a database someone named alike.
    const leftovers = rows.map((r) => r.datname).filter((n) => /^\d{8}t\d{6}z$/.test(n.slice(prefix.length)));
    for (const name of leftovers) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    return leftovers;
  });
}
