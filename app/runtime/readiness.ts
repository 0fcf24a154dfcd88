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
import { probeStorage, StorageUnavailableError } from '../../lib/clients/storage.js';
import { maskUrlCredentials } from '../../lib/redact.js';
import { TimeoutError, withTimeout } from '../../lib/time.js';

/**
 * Why a check fails, as /readyz says it: `timeout` (no answer within 2 s), `error` (the
 * dependency answered with an error or refused the connection), `out_of_memory` (Redis
 * refuses writes: maxmemory reached), `pending_migrations`, `stopping`, `missing_bucket`
 * (the store answers but `bulwark migrate` has not created the bucket).
 */
export type ReadinessReason =
  'timeout' | 'error' | 'out_of_memory' | 'pending_migrations' | 'stopping' | 'missing_bucket';

export interface ReadinessCheck {
  ok: boolean;
  reason?: ReadinessReason;
  /**
   * false for a dependency the process works without (the object store: audit and
   * alert ingest never touch it): reported, but it does not make /readyz fail.
   */
  required?: false;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, ReadinessCheck>;
}

class PendingMigrations extends Error {}

/** Redis' error reply when maxmemory is reached under the noeviction policy. */
const isOutOfMemory = (err: unknown) =>
  err instanceof Error && err.name === 'ReplyError' && err.message.startsWith('OOM ');

const CHECK_TIMEOUT_MS = 2000;

/**
 * @param isAccepting false once shutdown has begun: reported as the `accepting` check,
 *   so load balancers stop sending work.
 * @param options.database false for a process that works on Redis alone (the scheduler
 *   role): Postgres, the migrations and the object store are then not checked.
 */
export function createReadiness(
  ctx: AppContext,
  isAccepting: () => boolean = () => true,
  options: { database?: boolean } = {},
) {
  const database = options.database !== false;
  let files: MigrationFile[] | undefined;
  /** The message last logged per failing check: probes every few seconds log a failure once. */
  const logged = new Map<string, string>();

  async function check(name: string, fn: () => Promise<void>): Promise<[string, ReadinessCheck]> {
    try {
      await withTimeout(fn(), CHECK_TIMEOUT_MS, `${name} check`);
      logged.delete(name);
      return [name, { ok: true }];
    } catch (err) {
      const reason: ReadinessReason =
        err instanceof TimeoutError || (err instanceof StorageUnavailableError && err.storeCode === 'timeout')
          ? 'timeout'
          : err instanceof PendingMigrations
            ? 'pending_migrations'
            : err instanceof StorageUnavailableError && err.storeCode === 'NoSuchBucket'
              ? 'missing_bucket'
              : isOutOfMemory(err)
                ? 'out_of_memory'
                : 'error';
      if (reason === 'out_of_memory') ctx.metrics.redisOutOfMemory.inc({ source: 'readiness' });
      const error = maskUrlCredentials(err instanceof Error ? err.message : String(err)).slice(0, 300);
      if (logged.get(name) !== error) {
        logged.set(name, error);
        ctx.logger.warn({ event: 'readiness_check_failed', check: name, reason, error }, 'readiness check failed');
      }
      return [name, { ok: false, reason }];
    }
  }

  return async function readiness(): Promise<ReadinessReport> {
    const redis = check('redis', async () => {
      // A write, not a PING: a Redis at maxmemory still answers PING but refuses every
      // enqueue (OOM), and /readyz said ready through the whole of such an outage.
      await ctx.redis.set(`${ctx.config.queuePrefix}:readyz:probe`, '1', 'PX', 10_000);
    });
    if (!database) return report([await redis]);
    files ??= await readMigrationFiles();
    const results = await Promise.all([
      redis,
      check('postgres', async () => {
        await ctx.prisma.$queryRawUnsafe('SELECT 1');
      }),
      check('migrations', async () => {
        const applied = await ctx.prisma.$queryRawUnsafe<Array<{ migration_name: string }>>(
          `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
        );
        const names = new Set(applied.map((r) => r.migration_name));
        const pending = files!.filter((f) => !names.has(f.name)).map((f) => f.name);
        if (pending.length > 0)
          throw new PendingMigrations(`pending migrations: ${pending.join(', ')} (run bulwark migrate)`);
      }),
      check('object_store', () => probeStorage(ctx.storage, CHECK_TIMEOUT_MS)).then(
        ([name, c]): [string, ReadinessCheck] => [name, { ...c, required: false }],
      ),
    ]);
    return report(results);
  };

  function report(results: Array<[string, ReadinessCheck]>): ReadinessReport {
    const accepting: ReadinessCheck = isAccepting() ? { ok: true } : { ok: false, reason: 'stopping' };
    const checks = { ...Object.fromEntries(results), accepting };
    return { ready: Object.values(checks).every((c) => c.ok || c.required === false), checks };
  }
}
