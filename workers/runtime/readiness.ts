/**
 * Readiness: Redis answers, Postgres answers, and no migration is pending. Each check
 * has its own time limit so a hung dependency makes /readyz answer 503, not hang.
 */
import type { AppContext } from '../../lib/context.js';
import { readMigrationFiles, type MigrationFile } from '../../lib/db/migrations.js';
import { maskUrlCredentials } from '../../lib/redact.js';
import { withTimeout } from '../../lib/time.js';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

const CHECK_TIMEOUT_MS = 2000;

/**
 * @param isAccepting false once shutdown has begun: reported as the `accepting` check,
 *   so load balancers stop sending work.
 */
export function createReadiness(ctx: AppContext, isAccepting: () => boolean = () => true) {
  let files: MigrationFile[] | undefined;

  async function check(name: string, fn: () => Promise<void>): Promise<[string, { ok: boolean; error?: string }]> {
    try {
      await withTimeout(fn(), CHECK_TIMEOUT_MS, `${name} check`);
      return [name, { ok: true }];
    } catch (err) {
      return [name, { ok: false, error: maskUrlCredentials(err instanceof Error ? err.message : String(err)).slice(0, 300) }];
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
        if (pending.length > 0) throw new Error(`pending migrations: ${pending.join(', ')} (run bulwark migrate)`);
      }),
    ]);
    const checks = { ...Object.fromEntries(results), accepting: { ok: isAccepting() } };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };
}
