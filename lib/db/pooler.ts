/**
 * Postgres behind a connection pooler (PgBouncer in transaction pooling mode,
 * DATABASE_POOLER=pgbouncer): what the pool of `bulwark start` may send, and how a
 * connection tells that it does not lead to Postgres itself.
 *
 * In transaction mode each transaction (each statement outside one) runs on whichever
 * server session is free. Session state then leaks or vanishes: a session-level SET,
 * LISTEN, a session advisory lock, a named prepared statement or a temporary table
 * lands on a session other clients share next. Bulwark's pooled paths use none of them
 * (test/unit/pooler-safety.test.ts reads the sources for them); what needs a session of
 * its own goes to DIRECT_DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ConfigError } from '../errors.js';

export type DatabasePooler = 'none' | 'pgbouncer';

/**
 * A name for this process's sessions (pg_stat_activity.application_name, at most 63
 * bytes). PgBouncer sets it on whichever server session serves the client, so it finds
 * the process's running statements where the session ids it reports are its own.
 */
export function processApplicationName(role: string): string {
  return `bulwark-${role}-${process.pid}-${randomBytes(4).toString('hex')}`.slice(0, 63);
}

/**
 * Settings the pool sends when it connects. Through PgBouncer none: it refuses every
 * startup parameter except a few (application_name among them) with "unsupported
 * startup parameter", so the idle-in-transaction guard is the pooler's to set there
 * (docs/going-to-production.md#pgbouncer).
 */
export function sessionStartupSettings(pooler: DatabasePooler | undefined): Partial<pg.PoolConfig> {
  return pooler === 'pgbouncer'
    ? {}
    : {
        // A process that stalls inside a transaction (paused, wedged) must not hold the
        // audit chain heads' row locks for ever: the server ends such a session after 30 s.
        idle_in_transaction_session_timeout: 30_000,
      };
}

/**
 * Whether this connected client goes through a pooler: PgBouncer hands the client a
 * session id (BackendKeyData) of its own making, never the server's process id.
 */
export async function goesThroughPooler(client: pg.Client | pg.PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const given = (client as unknown as { processID?: number | null }).processID;
  return typeof given === 'number' && rows[0]?.pid !== given;
}

/**
 * Refuse to go on over a pooler where a session of its own is needed.
 * @throws ConfigError naming the variable that should lead to Postgres itself.
 */
export async function requireDirect(client: pg.Client | pg.PoolClient, what: string, variable: string): Promise<void> {
  if (await goesThroughPooler(client))
    throw new ConfigError([
      {
        path: variable,
        message: `leads to a connection pooler (PgBouncer?), not to Postgres itself: ${what} needs a direct connection (set DIRECT_DATABASE_URL to the server's own address)`,
      },
    ]);
}
