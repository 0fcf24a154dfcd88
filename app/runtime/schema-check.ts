/**
 * Before any worker starts: the schema must be the one this release's code was written
 * for. Workers started against pending migrations took jobs and failed them, attempt
 * after attempt, on columns or tables that were not there yet (only /readyz said why).
 * A database that cannot be reached is no reason to refuse: the workers wait and
 * retry for it as for an outage later on, and readiness reports it.
 */
import type pg from 'pg';
import type { AppContext } from '../../lib/context.js';
import { ConfigError, PendingMigrationsError } from '../../lib/errors.js';
import { pendingMigrations, readMigrationFiles } from '../../lib/db/migrations.js';
import type { Logger } from '../../lib/logger.js';

/** The names of the pending migrations; none when the database could not be asked (logged). */
export async function pendingAtStart(pool: pg.Pool, logger: Logger): Promise<string[]> {
  let client: pg.PoolClient | undefined;
  try {
    client = await pool.connect();
    return await pendingMigrations(client, await readMigrationFiles());
  } catch (err) {
    // The one connection failure that is a mistake in the configuration, not an outage.
    if (err instanceof Error && /unsupported startup parameter/.test(err.message))
      throw new ConfigError([
        {
          path: 'DATABASE_POOLER',
          message:
            'must be pgbouncer: DATABASE_URL leads to PgBouncer, which refuses the settings sent at connect ("unsupported startup parameter")',
        },
      ]);
    logger.warn(
      { event: 'migrations_unchecked', err },
      'could not check for pending migrations at start; starting anyway (/readyz reports them)',
    );
    return [];
  } finally {
    client?.release();
  }
}

/**
 * Throws PendingMigrationsError when a migration is pending (nothing has started yet:
 * the caller closes the context's clients, so a refused `bulwark start` exits).
 */
export async function refuseUnmigratedSchema(ctx: Pick<AppContext, 'pg' | 'logger'>): Promise<void> {
  const pending = await pendingAtStart(ctx.pg, ctx.logger);
  if (pending.length === 0) return;
  ctx.logger.error({ event: 'migrations_pending', pending }, 'migrations pending: not starting');
  throw new PendingMigrationsError(pending);
}
