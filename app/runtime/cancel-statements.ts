/**
 * Cancelling this process's own running statements, for a shutdown past its deadline.
 * The sessions are the pool's, by server process id (pg_cancel_backend works on the
 * same role's sessions). The caller passes a connection of its own: the pool may have
 * no free connection left.
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
