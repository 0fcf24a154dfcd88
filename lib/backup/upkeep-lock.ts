/**
 * One restore drill or backup prune at a time, across every worker process and the
 * CLI: a transaction-level Postgres advisory lock, in a transaction held open on a
 * connection of its own for the whole run. A process that dies lets go with its
 * connection, so a crash never leaves it held. Drills and prunes share it so that a
 * prune never deletes the backup a drill is restoring, and so a drill can drop scratch
 * databases left by a crashed one without dropping a running one's.
 *
 * Transaction-level, not a session's: behind PgBouncer in transaction pooling mode a
 * session lock stays on whichever server session ran the statement, which PgBouncer
 * then hands to other clients (who would take the "held" lock again) and the unlock
 * may run elsewhere (leaving it held for good). A transaction keeps its server session
 * until it ends, through PgBouncer or not. The transaction does nothing but hold the
 * lock; a light statement every few seconds keeps it from counting as idle (the
 * server's idle_in_transaction_session_timeout, PgBouncer's idle_transaction_timeout)
 * and notices a lost connection.
 */
import type pg from 'pg';
import { ConflictError } from '../errors.js';

/** The advisory lock key (any bigint; advisory locks are per database). */
export const UPKEEP_LOCK_KEY = 7_301_206_300;

/** How often the holding transaction says it is alive (well under the usual 30 s idle limits). */
const HEARTBEAT_MS = 5000;

/**
 * Run `fn` holding the upkeep lock.
 * @throws ConflictError when another drill or prune holds it (nothing waits: a second
 *   drill started by hand while the weekly one runs should say so, not queue up).
 */
export async function withUpkeepLock<T>(pool: pg.Pool, what: string, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    await client.query('BEGIN');
    // The transaction waits while `fn` works on other connections: no idle limit ends it.
    await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
      UPKEEP_LOCK_KEY,
    ]);
    if (rows[0]?.ok !== true)
      throw new ConflictError(
        `another restore drill or backup prune is running; try the ${what} again when it has finished`,
      );
    let beating: Promise<unknown> = Promise.resolve();
    heartbeat = setInterval(() => {
      beating = client.query('SELECT 1').catch(() => void (broken = true));
    }, HEARTBEAT_MS);
    heartbeat.unref();
    try {
      return await fn();
    } finally {
      clearInterval(heartbeat);
      await beating;
    }
  } finally {
    // COMMIT ends the transaction and with it the lock (ROLLBACK after a refusal, same).
    const ended = broken
      ? false
      : await client.query('COMMIT').then(
          () => true,
          () => false,
        );
    // A connection that failed while held dropped the lock with its session: discard it.
    client.release(ended ? undefined : true);
  }
}
