/** Prisma client factory (Prisma 7, driver adapter over node-postgres; no native engine). */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client.js';
import type { Config } from '../config.js';
import { poolSurvivesConnectionLoss, type ConnectionLostHandler } from '../db/connection-loss.js';
import { sessionStartupSettings } from '../db/pooler.js';

export type { PrismaClient } from '../../generated/prisma/client.js';
export type { TransactionClient } from '../../generated/prisma/internal/prismaNamespace.js';

export interface PrismaOptions {
  /** Pool size. Default: 10. */
  max?: number;
  /** Share this pool instead of opening one (the hot audit path uses it directly). */
  pool?: pg.Pool;
}

/** What the pool needs of the configuration; the pooler is `none` when not given. */
export type PoolConfig = Pick<Config, 'databaseUrl'> & Partial<Pick<Config, 'databasePooler'>>;

/**
 * The node-postgres pool Prisma's adapter runs on.
 * @param onConnectionLost called once per connection that died, idle or checked out
 *   (lib/db/connection-loss.ts). Default: nothing; the failure reaches the caller anyway.
 * @param applicationName the sessions' application_name (app/main.ts gives each process
 *   its own, which is how a forced shutdown finds its statements behind PgBouncer).
 */
export function createPgPool(
  config: PoolConfig,
  max = 10,
  onConnectionLost?: ConnectionLostHandler,
  applicationName?: string,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max,
    // Fail fast when Postgres is unreachable so jobs retry with backoff instead of hanging.
    connectionTimeoutMillis: 5000,
    // The idle-in-transaction guard, unless a pooler in between refuses settings at connect.
    ...sessionStartupSettings(config.databasePooler),
    ...(applicationName ? { application_name: applicationName } : {}),
  });
  // A connection dropped by the server (restart, failover, network cut), idle or in the
  // middle of a transaction, must not crash the process: the running query fails (the
  // job retries, the request gets 503), the pool discards the client and opens a new one.
  return poolSurvivesConnectionLoss(pool, onConnectionLost);
}

/**
 * Track the server process id of each session the pool opens, until the pool drops it.
 * (pg's Client learns it at connect time; @types/pg does not declare it.)
 */
export function trackBackendPids(pool: pg.Pool): () => number[] {
  const pids = new Map<pg.PoolClient, number>();
  const pidOf = (client: pg.PoolClient) => (client as unknown as { processID?: number | null }).processID;
  pool.on('connect', (client) => {
    const pid = pidOf(client);
    if (typeof pid === 'number') pids.set(client, pid);
  });
  pool.on('remove', (client) => void pids.delete(client));
  return () => [...pids.values()];
}

/**
 * Interactive transactions (`$transaction(async (tx) => …)`): Prisma's defaults (5 s to
 * run, 2 s to get a connection) failed a tenant bootstrap on a machine whose CPU was
 * busy, with nothing wrong. A stalled session is the server's to end
 * (idle_in_transaction_session_timeout, 30 s); callers that need less pass their own.
 */
export const TRANSACTION_OPTIONS = { timeout: 20_000, maxWait: 10_000 } as const;

export function createPrisma(config: PoolConfig, options: PrismaOptions = {}): PrismaClient {
  if (options.pool)
    return new PrismaClient({ adapter: new PrismaPg(options.pool), transactionOptions: TRANSACTION_OPTIONS });
  // Prisma's $disconnect() does not end a pool it was handed: its idle connections kept
  // a finished CLI command alive for the pool's 10 s idle timeout. They may not now.
  const pool = createPgPool(config, options.max ?? 10);
  pool.options.allowExitOnIdle = true;
  return new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions: TRANSACTION_OPTIONS });
}
