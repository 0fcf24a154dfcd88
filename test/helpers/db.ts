/**
 * A fresh database per test file, cloned from a template migrated once per set of
 * migration files (the template's name carries their checksum, so a changed
 * migration builds a new template).
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPrisma, type PrismaClient } from '../../lib/clients/prisma.js';
import { migrate, readMigrationFiles } from '../../lib/db/migrations.js';

export const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function ensureTemplate(): Promise<string> {
  const files = await readMigrationFiles();
  const digest = createHash('sha256')
    .update(files.map((f) => `${f.name}:${f.checksum}`).join('\n'))
    .digest('hex')
    .slice(0, 12);
  const name = `bulwark_tpl_${digest}`;
  // Serialise template creation between test processes running in parallel.
  return admin(async (c) => {
    await c.query('SELECT pg_advisory_lock(4242001)');
    try {
      const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (!found.rowCount) {
        const building = `${name}_build_${randomBytes(3).toString('hex')}`;
        await c.query(`CREATE DATABASE ${building}`);
        await migrate(urlFor(building));
        await c.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      }
      return name;
    } finally {
      await c.query('SELECT pg_advisory_unlock(4242001)');
    }
  });
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, migrated, empty database for one test file. */
export async function createTestDatabase(prefix = 'bulwark_t'): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await admin(async (c) => {
    await c.query('SELECT pg_advisory_lock(4242001)');
    try {
      await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(4242001)');
    }
  });
  return {
    name,
    url: urlFor(name),
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/**
 * A new, migrated database with a Prisma client on it, for a file's own setup and
 * checks. `max` is the client's pool size. Default: 1. Clean up with databaseTeardown.
 */
export async function createTestDatabaseWithPrisma(max = 1): Promise<{ db: TestDatabase; prisma: PrismaClient }> {
  const db = await createTestDatabase();
  return { db, prisma: createPrisma({ databaseUrl: db.url }, { max }) };
}

/** Cleanup steps for it, in order: disconnect, drop. `get` is called at cleanup time. */
export function databaseTeardown(
  get: () => { db?: TestDatabase | undefined; prisma?: PrismaClient | undefined },
): Array<[string, () => unknown]> {
  return [
    ['disconnect prisma', () => get().prisma?.$disconnect()],
    ['drop database', () => get().db?.drop()],
  ];
}

/** An empty database with no migrations applied (for migration-runner tests). */
export async function createEmptyDatabase(prefix = 'bulwark_e'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await admin(async (c) => void (await c.query(`CREATE DATABASE ${name}`)));
  return {
    name,
    url: urlFor(name),
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/** Run SQL as the superuser against a test database (e.g. to tamper with a row). */
export async function superuserQuery(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}
