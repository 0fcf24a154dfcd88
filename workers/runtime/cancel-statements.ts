/**
 * Cancelling this process's own running statements, for a shutdown past its deadline.
 * The sessions are found by the pool's application_name (unique to the process). The
 * caller passes a connection of its own: the pool may have no free connection left.
 */
import type pg from 'pg';

/** Cancels every active statement of sessions named `applicationName`; resolves with how many. */
export async function cancelOwnStatements(db: Pick<pg.Client, 'query'>, applicationName: string): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_cancel_backend(pid))::int AS n FROM pg_stat_activity
      WHERE application_name = $1 AND state = 'active' AND pid <> pg_backend_pid()`,
    [applicationName],
  );
  return res.rows[0]?.n ?? 0;
}
