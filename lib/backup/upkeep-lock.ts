/**
 * One restore drill or backup prune at a time, across every worker process and the
 * CLI: a session-level Postgres advisory lock on a connection held for the whole run.
 * A process that dies lets go with its connection, so a crash never leaves it held.
 * Drills and prunes share it so that a prune never deletes the backup a drill is
 * restoring, and so a drill can drop scratch databases left by a crashed one without
 * dropping a running one's.
 */
import type pg from 'pg';
import { ConflictError } from '../errors.js';

/** The advisory lock key (any bigint; advisory locks are per database). */
export const UPKEEP_LOCK_KEY = 7_301_206_300;

/**
 * Run `fn` holding the upkeep lock.
 * @throws ConflictError when another drill or prune holds it (nothing waits: a second
 *   drill started by hand while the weekly one runs should say so, not queue up).
 */
export async function withUpkeepLock<T>(pool: pg.Pool, what: string, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let locked = false;
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [UPKEEP_LOCK_KEY]);
    locked = rows[0]?.ok === true;
    if (!locked)
      throw new ConflictError(
        `another restore drill or backup prune is running; try the ${what} again when it has finished`,
      );
    return await fn();
  } finally {
    // A connection that failed while held drops the lock with its session: discard it.
    const unlocked = locked
      ? await client.query('SELECT pg_advisory_unlock($1)', [UPKEEP_LOCK_KEY]).then(
          () => true,
          () => false,
        )
      : true;
    client.release(unlocked ? undefined : true);
  }
}
