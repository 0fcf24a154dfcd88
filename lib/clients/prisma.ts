/** Prisma client factory (Prisma 7, driver adapter over node-postgres; no native engine). */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client.js';
import type { Config } from '../config.js';

export type { PrismaClient } from '../../generated/prisma/client.js';
export type { TransactionClient } from '../../generated/prisma/internal/prismaNamespace.js';

export interface PrismaOptions {
  /** Pool size. Default: 10. */
  max?: number;
  /** Share this pool instead of opening one (the hot audit path uses it directly). */
  pool?: pg.Pool;
}

/** The node-postgres pool Prisma's adapter runs on. */
export function createPgPool(config: Pick<Config, 'databaseUrl'>, max = 10, onIdleError?: (err: Error) => void, applicationName?: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max,
    ...(applicationName ? { application_name: applicationName } : {}),
    // Fail fast when Postgres is unreachable so jobs retry with backoff instead of hanging.
    connectionTimeoutMillis: 5000,
    // A process that stalls inside a transaction (paused, wedged) must not hold the audit
    // chain heads' row locks for ever: the server ends such a session after 30 s.
    idle_in_transaction_session_timeout: 30_000,
  });
  // An idle connection dropped by the server (restart, network cut) must not crash the
  // process: the pool discards it and the next query opens a new one.
  pool.on('error', (err) => onIdleError?.(err));
  return pool;
}

export function createPrisma(config: Pick<Config, 'databaseUrl'>, options: PrismaOptions = {}): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(options.pool ?? createPgPool(config, options.max ?? 10)) });
}
