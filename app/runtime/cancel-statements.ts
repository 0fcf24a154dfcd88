/**
 * Cancelling this process's own running statements, for a shutdown past its deadline.
 * The sessions are the pool's, by server process id (pg_cancel_backend works on the
 * same role's sessions); behind PgBouncer, whose session ids are its own, by the
 * process's application_name, which PgBouncer sets on the server session serving it.
 * The caller passes a connection of its own, direct to Postgres: the pool may have no
 * free connection left.
 */
import type pg from 'pg';

/** Cancels whatever statement each of these sessions is running; resolves with how many were running one. */
export async function cancelOwnStatements(db: Pick<pg.Client, 'query'>, pids: number[]): Promise<number> {
  if (pids.length === 0) return 0;
  const res = await db.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_cancel_backend(a.pid))::int AS n
       FROM pg_stat_activity a JOIN unnest($1::int[]) AS p(pid) ON p.pid = a.pid
      WHERE a.state = 'active'`,
    [pids],
  );
  return res.rows[0]?.n ?? 0;
}

/** Behind PgBouncer: cancels the statements the server sessions serving this process run now. */
export async function cancelByApplicationName(db: Pick<pg.Client, 'query'>, applicationName: string): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_cancel_backend(pid))::int AS n
       FROM pg_stat_activity
      WHERE application_name = $1 AND state = 'active' AND pid <> pg_backend_pid()`,
    [applicationName],
  );
  return res.rows[0]?.n ?? 0;
}
