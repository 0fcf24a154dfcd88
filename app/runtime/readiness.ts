/**
 * Readiness: Redis answers, Postgres answers, and no migration is pending. Each check
 * has its own time limit so a hung dependency makes /readyz answer 503, not hang.
 *
 * /readyz answers without credentials, so a failing check says only a fixed reason:
 * a driver's message names internal hosts, ports and database names (the MNA
 * checklist: probes public only with minimal information). The message goes to the
 * log as `readiness_check_failed`, once per check and message, not once per probe.
 */
import type { AppContext } from '../../lib/context.js';
import { readMigrationFiles, type MigrationFile } from '../../lib/db/migrations.js';
import { maskUrlCredentials } from '../../lib/redact.js';
import { TimeoutError, withTimeout } from '../../lib/time.js';

/** Why a check fails, as /readyz says it: `timeout` (no answer within 2 s), `error` (the dependency answered with an error or refused the connection), `pending_migrations`, `stopping`. */
export type ReadinessReason = 'timeout' | 'error' | 'pending_migrations' | 'stopping';

export interface ReadinessCheck {
  ok: boolean;
  reason?: ReadinessReason;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, ReadinessCheck>;
}

class PendingMigrations extends Error {}

const CHECK_TIMEOUT_MS = 2000;

/**
 * @param isAccepting false once shutdown has begun: reported as the `accepting` check,
 *   so load balancers stop sending work.
 */
export function createReadiness(ctx: AppContext, isAccepting: () => boolean = () => true) {
  let files: MigrationFile[] | undefined;
  /** The message last logged per failing check: probes every few seconds log a failure once. */
  const logged = new Map<string, string>();

  async function check(name: string, fn: () => Promise<void>): Promise<[string, ReadinessCheck]> {
    try {
      await withTimeout(fn(), CHECK_TIMEOUT_MS, `${name} check`);
      logged.delete(name);
      return [name, { ok: true }];
    } catch (err) {
      const reason: ReadinessReason = err instanceof TimeoutError ? 'timeout' : err instanceof PendingMigrations ? 'pending_migrations' : 'error';
      const error = maskUrlCredentials(err instanceof Error ? err.message : String(err)).slice(0, 300);
      if (logged.get(name) !== error) {
        logged.set(name, error);
        ctx.logger.warn({ event: 'readiness_check_failed', check: name, reason, error }, 'readiness check failed');
      }
      return [name, { ok: false, reason }];
    }
  }

  return async function readiness(): Promise<ReadinessReport> {
    files ??= await readMigrationFiles();
    const results = await Promise.all([
      check('redis', async () => {
        await ctx.redis.ping();
      }),
      check('postgres', async () => {
        await ctx.prisma.$queryRawUnsafe('SELECT 1');
      }),
      check('migrations', async () => {
        const applied = await ctx.prisma.$queryRawUnsafe<Array<{ migration_name: string }>>(
          `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
        );
        const names = new Set(applied.map((r) => r.migration_name));
        const pending = files!.filter((f) => !names.has(f.name)).map((f) => f.name);
        if (pending.length > 0) throw new PendingMigrations(`pending migrations: ${pending.join(', ')} (run bulwark migrate)`);
      }),
    ]);
    const accepting: ReadinessCheck = isAccepting() ? { ok: true } : { ok: false, reason: 'stopping' };
    const checks = { ...Object.fromEntries(results), accepting };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };
}
