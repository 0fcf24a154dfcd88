/**
 * A restore drill: restore the newest backup into a scratch database, with restore's own
 * checks (migrations, every tenant's audit chain, row counts and chain heads against the
 * manifest), run a smoke query against it, and drop it, also when something failed.
 * The result is evidence (lib/backup/drill-record.ts writes it down): which backup, how
 * long the restore took, how old the backup was (the data a restore would have lost),
 * and each check's outcome. A drill never throws for a failed check: a failure is a
 * result to record and alert on. It throws only when it could not run at all (another
 * drill holds the upkeep lock).
 */
import pg from 'pg';
import { SYSTEM_TENANT_ID } from '../audit/record.js';
import type { Logger } from '../logger.js';
import { maskUrlCredentials } from '../redact.js';
import type { Clock } from '../time.js';
import { backupIdTime } from './retention.js';
import { createScratch, dropLeftoverScratches, dropScratch, scratchName, urlOfDatabase } from './scratch.js';
import { withUpkeepLock } from './upkeep-lock.js';

/** One check of a drill, in the order run. */
export interface DrillCheck {
  /** `backup-found`, `restore`, restore's own checks, `smoke-query`, `scratch-dropped`. */
  name: string;
  ok: boolean;
  /** What was found, or why it failed (credentials in URLs masked). */
  detail?: string;
  ms?: number;
}

/**
 * What restore reports of its own checks (`restore:rows`, `restore:migrations`, …): on
 * the result when they passed, on the error it throws when some failed.
 */
export interface RestoreReport {
  checks?: ReadonlyArray<{ name: string; ok: boolean; detail?: string }>;
}

/** The backups a drill reads: wired to lib/backup's listBackups and restoreBackup by the caller. */
export interface DrillBackups {
  /** The restorable backups (a valid signed manifest), any order; the drill takes the newest. */
  list(): Promise<ReadonlyArray<{ id: string }>>;
  /** Restore backup `id` into the empty database at `intoUrl`, with restore's checks; throws (a RestoreReport too) when they fail. */
  restore(id: string, intoUrl: string): Promise<RestoreReport | void>;
}

export interface DrillResult {
  backupId: string | undefined;
  startedAt: Date;
  finishedAt: Date;
  /** The measured restore time (the restore call, its checks included), ms. */
  durationMs: number | undefined;
  /** startedAt minus the backup's time, in seconds: the data a restore would have lost. */
  backupAgeSeconds: number | undefined;
  /** The scratch database used (dropped again unless the `scratch-dropped` check failed). */
  scratchDatabase: string | undefined;
  checks: DrillCheck[];
  passed: boolean;
  /** The first failed check's detail, when one failed. */
  error: string | undefined;
}

export interface DrillDeps {
  /** DATABASE_URL: the scratch database is made on its server, named after it. */
  databaseUrl: string;
  backups: DrillBackups;
  pool: pg.Pool;
  clock: Clock;
  logger: Logger;
}

const message = (err: unknown) => maskUrlCredentials(err instanceof Error ? err.message : String(err)).slice(0, 1000);

/** Run one drill of the newest backup under the upkeep lock. @throws ConflictError when another drill or prune runs. */
export function runRestoreDrill(deps: DrillDeps): Promise<DrillResult> {
  return withUpkeepLock(deps.pool, 'restore drill', () => drill(deps));
}

async function drill(deps: DrillDeps): Promise<DrillResult> {
  const { clock, logger } = deps;
  const startedAt = clock();
  const checks: DrillCheck[] = [];
  /** Run one check, timed; a throw is its failure. Returns whether it passed. */
  async function check(name: string, fn: () => Promise<string | undefined>): Promise<boolean> {
    const t0 = performance.now();
    try {
      const detail = await fn();
      checks.push({ name, ok: true, ...(detail ? { detail } : {}), ms: Math.round(performance.now() - t0) });
      return true;
    } catch (err) {
      checks.push({ name, ok: false, detail: message(err), ms: Math.round(performance.now() - t0) });
      return false;
    }
  }

  let backupId: string | undefined;
  await check('backup-found', async () => {
    const ids = (await deps.backups.list()).map((b) => b.id).filter((id) => backupIdTime(id));
    backupId = ids.sort().at(-1);
    if (!backupId) throw new Error('no backup to drill: the backup bucket lists no restorable backup');
    return backupId;
  });

  let durationMs: number | undefined;
  let scratch: string | undefined;
  if (backupId) {
    const leftovers = await dropLeftoverScratches(deps.databaseUrl).catch((err: unknown) => {
      logger.warn(
        { event: 'restore_drill_leftovers_failed', err },
        'could not drop scratch databases of earlier drills',
      );
      return [];
    });
    if (leftovers.length)
      logger.warn(
        { event: 'restore_drill_leftovers_dropped', databases: leftovers },
        'dropped scratch databases left by earlier drills',
      );
    scratch = scratchName(deps.databaseUrl, backupId);
    const intoUrl = urlOfDatabase(deps.databaseUrl, scratch);
    try {
      if (await check('scratch-created', async () => (await createScratch(deps.databaseUrl, scratch!), scratch))) {
        const t0 = performance.now();
        let restoreChecks: RestoreReport['checks'] = [];
        const restored = await check('restore', async () => {
          try {
            restoreChecks = (await deps.backups.restore(backupId!, intoUrl))?.checks ?? [];
          } catch (err) {
            // A restore whose own checks failed says which: each becomes a check here.
            restoreChecks = (err as RestoreReport).checks ?? [];
            throw err;
          }
          return `restored ${backupId} into ${scratch}`;
        });
        durationMs = Math.round(performance.now() - t0);
        for (const c of restoreChecks ?? [])
          checks.push({
            name: c.name,
            ok: c.ok,
            ...(c.detail ? { detail: maskUrlCredentials(c.detail).slice(0, 1000) } : {}),
          });
        if (restored) await check('smoke-query', () => smokeQuery(intoUrl));
      }
    } finally {
      await check('scratch-dropped', async () => (await dropScratch(deps.databaseUrl, scratch!), scratch));
    }
  }

  const finishedAt = clock();
  const backupTime = backupId ? backupIdTime(backupId) : undefined;
  const failed = checks.find((c) => !c.ok);
  return {
    backupId,
    startedAt,
    finishedAt,
    durationMs,
    backupAgeSeconds: backupTime
      ? Math.max(0, Math.round((startedAt.getTime() - backupTime.getTime()) / 1000))
      : undefined,
    scratchDatabase: scratch,
    checks,
    passed: !failed,
    error: failed ? `${failed.name}: ${failed.detail ?? 'failed'}` : undefined,
  };
}

/**
 * What an application would do first against the restored database: read the tenants
 * and the audit log through ordinary queries. The system tenant every migrated Bulwark
 * database holds must be there; the counts are the evidence's detail.
 */
async function smokeQuery(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, statement_timeout: 60_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ tenants: string; entries: string; system: boolean }>(
      `SELECT (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM audit_log) AS entries,
              EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS system`,
      [SYSTEM_TENANT_ID],
    );
    const r = rows[0]!;
    if (!r.system) throw new Error('the restored database has no system tenant: it is not a migrated Bulwark database');
    return `${r.tenants} tenants, ${r.entries} audit entries`;
  } finally {
    await client.end().catch(() => undefined);
  }
}
