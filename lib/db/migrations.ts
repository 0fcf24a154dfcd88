/**
 * Our migration runner. Prisma's schema engine cannot run on our machines, so the SQL
 * in prisma/migrations/<timestamp>_<name>/migration.sql is applied here and recorded
 * in `_prisma_migrations` exactly as Prisma records it (checksum = SHA-256 hex of the
 * file), so `prisma migrate status/deploy` elsewhere agrees with what we did.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { MigrationError } from '../errors.js';
import { survivesConnectionLoss } from './connection-loss.js';
import { requireDirect } from './pooler.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));
/** Prisma's own advisory lock key, so our runner and `prisma migrate` exclude each other. */
const PRISMA_ADVISORY_LOCK = 72707369;
const NAME = /^\d{14}_[a-z0-9_]+$/;

/**
 * Migrations corrected after they were merged, before any release, with the checksums
 * of their earlier texts. A database one of those texts migrated counts as migrated by
 * the file (each correction leaves such a database as the file would), and its stored
 * checksum is updated to the file's, so `prisma migrate status` agrees. Anything else
 * changed after it was applied is still refused.
 */
export const SUPERSEDED_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  // The first text could hand audit_purge() to bw_audit_purger only as a superuser; a
  // superuser's result is the same under the corrected text.
  '20261206500000_retention': ['4b88dc6584d598aa5398f8750a37f98e2ca9d1f59d59f92ea8e50a8ee1bb6014'],
};

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateReport {
  applied: string[];
  alreadyApplied: number;
}

const PRISMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/** Migration folders in the order they apply (their names start with a timestamp). */
export async function readMigrationFiles(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && NAME.test(d.name))
    .map((d) => d.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(`${dir}/${name}/migration.sql`, 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/** Create the database named in the URL if it does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const target = new URL(databaseUrl);
  const dbName = decodeURIComponent(target.pathname.slice(1));
  if (!dbName) throw new Error('DATABASE_URL names no database');
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = survivesConnectionLoss(new pg.Client({ connectionString: admin.toString() }));
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`);
    return true;
  } catch (err) {
    // Two runs racing to create it: the loser finds it created, which is what it wanted.
    // It hears 42P04 (duplicate_database) when the winner had committed before its
    // check, but 23505 from pg_database's unique index when both were creating at once.
    const code = (err as { code?: string }).code;
    if (code === '42P04' || code === '23505') return false;
    throw err;
  } finally {
    await client.end();
  }
}

async function appliedMigrations(client: pg.Client | pg.PoolClient): Promise<Map<string, string>> {
  const exists = await client.query(`SELECT to_regclass('"_prisma_migrations"') AS t`);
  if (!exists.rows[0]?.t) return new Map();
  const rows = await client.query<{ migration_name: string; checksum: string }>(
    `SELECT migration_name, checksum FROM "_prisma_migrations"
      WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  return new Map(rows.rows.map((r) => [r.migration_name, r.checksum]));
}

/** Names of migration files not yet applied to the database (used by /readyz). */
export async function pendingMigrations(client: pg.Client | pg.PoolClient, files: MigrationFile[]): Promise<string[]> {
  const applied = await appliedMigrations(client);
  return files.filter((f) => !applied.has(f.name)).map((f) => f.name);
}

/**
 * Apply every pending migration, each in its own transaction, under Prisma's advisory
 * lock so concurrent runs queue up instead of racing. A re-run is a no-op. The URL must
 * lead to Postgres itself, not to a pooler (ConfigError naming `urlVariable` otherwise).
 * @throws MigrationError naming the file that failed; that file's changes are rolled back.
 */
export async function migrate(
  databaseUrl: string,
  /** `only`: apply just these migrations (a tenant restore rebuilds the schema its backup was taken with). */
  options: { dir?: string; onApplied?: (name: string) => void; urlVariable?: string; only?: ReadonlySet<string> } = {},
): Promise<MigrateReport> {
  const files = (await readMigrationFiles(options.dir)).filter((f) => !options.only || options.only.has(f.name));
  const client = survivesConnectionLoss(new pg.Client({ connectionString: databaseUrl }));
  await client.connect();
  let locked = false;
  try {
    // The advisory lock below is a session's, and each file runs as several statements:
    // through PgBouncer's transaction pooling neither would hold. Refused, naming the URL.
    await requireDirect(client, 'bulwark migrate', options.urlVariable ?? 'DATABASE_URL');
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    locked = true;
    await client.query(PRISMA_MIGRATIONS_DDL);
    const applied = await appliedMigrations(client);
    for (const f of files) {
      const sum = applied.get(f.name);
      if (sum === undefined || sum === f.checksum) continue;
      if (!SUPERSEDED_CHECKSUMS[f.name]?.includes(sum)) {
        throw new MigrationError(
          f.name,
          new Error('the file was changed after it was applied; add a new migration instead'),
        );
      }
      await client.query(`UPDATE "_prisma_migrations" SET checksum = $1 WHERE migration_name = $2 AND checksum = $3`, [
        f.checksum,
        f.name,
        sum,
      ]);
    }
    const report: MigrateReport = { applied: [], alreadyApplied: applied.size };
    for (const f of files.filter((file) => !applied.has(file.name))) {
      const startedAt = new Date();
      try {
        await client.query('BEGIN');
        await client.query(f.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations"
             (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
          [randomUUID(), f.checksum, f.name, startedAt],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(f.name, err);
      }
      report.applied.push(f.name);
      options.onApplied?.(f.name);
    }
    return report;
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => undefined);
    await client.end();
  }
}
