/**
 * `bulwark audit verify --checkpoints`: the chain walk of lib/audit/verify.ts, and
 * beside it (at the same time: the store and the database are read in parallel) every
 * published checkpoint checked on its own (collect.ts) and against the chain
 * (compare.ts), and every hour that should have a checkpoint and has none reported.
 *
 * Which hours should: those in which AUDIT_VERIFY_CRON fired, more than an hour ago
 * (CHECKPOINT_GRACE_MS), from the first checkpoint found (of any tenant checked; with
 * `since`, not before that day) or the tenant's creation, whichever is later. A tenant
 * whose chain was broken at an hour has no checkpoint for it (only verified heads are
 * signed), so it is reported missing too, beside the broken chain.
 */
import type { PrismaClient } from '../clients/prisma.js';
import type { Storage } from '../clients/storage.js';
import { verifyChains, type VerifyOptions, type VerifyReport } from '../audit/verify.js';
import { collectCheckpoints, listTenantKeys, type CheckpointProblem, type TenantCollection } from './collect.js';
import { compareWithChain } from './compare.js';
import { hourOf, hourStart } from './format.js';
import { CHECKPOINT_GRACE_MS, missingRuns, scheduledHours } from './hours.js';
import type { CheckpointPublicKey } from './keys.js';

export interface TenantCheckpointResult {
  tenantId: string;
  /** Checkpoint objects found (in the window, when `since` was given). */
  checkpoints: number;
  /** Checked against the chain and found in it. */
  verified: number;
  /** Inside runs of entries retention purged: accounted for, not comparable. */
  purged: number;
  problems: CheckpointProblem[];
}

export interface CheckpointReport {
  ok: boolean;
  tenants: TenantCheckpointResult[];
  /** The first hour checked for (the earliest checkpoint found), undefined when none was found. */
  since: string | undefined;
}

export interface CheckpointVerifyDeps {
  prisma: PrismaClient;
  storage: Storage;
  /** The keys a checkpoint may be signed with (lib/checkpoints/keys.ts checkpointKeys). */
  keys: readonly CheckpointPublicKey[];
  /** AUDIT_VERIFY_CRON: when checkpoints are written. */
  cron: string;
  now: Date;
}

export interface CheckpointVerifyOptions extends VerifyOptions {
  /** Only checkpoints from this UTC day on (YYYY-MM-DD). Default: all. */
  since?: string;
}

/** Walk the chains and check the checkpoints; both reports. */
export async function verifyWithCheckpoints(
  deps: CheckpointVerifyDeps,
  options: CheckpointVerifyOptions = {},
): Promise<{ chains: VerifyReport; checkpoints: CheckpointReport }> {
  const tenants = await deps.prisma.$queryRawUnsafe<Array<{ id: string; created_at: Date }>>(
    `SELECT id::text, created_at FROM tenants ${options.tenantId ? 'WHERE id = $1::uuid' : ''} ORDER BY id`,
    ...(options.tenantId ? [options.tenantId] : []),
  );
  const created = new Map(tenants.map((t) => [t.id, new Date(t.created_at)]));
  const storeSide = (async () => {
    // Every key under checkpoints/: those of tenants the database no longer has count too.
    const scope = options.tenantId ? { tenantId: options.tenantId.toLowerCase() } : { tenantIds: [...created.keys()] };
    return collectCheckpoints(deps.storage, await listTenantKeys(deps.storage, scope, options.since), deps.keys);
  })();
  // Both sides run at once; a store failure still lets the walk finish before it is thrown.
  const [chains, collected] = await Promise.all([
    verifyChains(deps.prisma, options),
    storeSide.then(
      (c) => ({ c }),
      (err: unknown) => ({ err }),
    ),
  ]);
  if ('err' in collected) throw collected.err;
  return { chains, checkpoints: await judge(deps, collected.c, created, options.since) };
}

async function judge(
  deps: CheckpointVerifyDeps,
  collected: TenantCollection[],
  created: ReadonlyMap<string, Date>,
  since: string | undefined,
): Promise<CheckpointReport> {
  const first = collected
    .flatMap((t) => [...t.hours])
    .sort()
    .at(0);
  const until = new Date(deps.now.getTime() - CHECKPOINT_GRACE_MS);
  const floor = since ? new Date(`${since}T00:00:00.000Z`) : undefined;
  const start = first && new Date(Math.max(hourStart(first).getTime(), floor?.getTime() ?? 0));
  // Computed once: a year of hours is 8,760 cron evaluations, not that many per tenant.
  const scheduled = start ? scheduledHours(deps.cron, start, until) : [];
  const tenants: TenantCheckpointResult[] = [];
  for (const t of collected) {
    const result: TenantCheckpointResult = {
      tenantId: t.tenantId,
      checkpoints: t.hours.size,
      verified: 0,
      purged: 0,
      problems: [...t.problems],
    };
    tenants.push(result);
    const createdAt = created.get(t.tenantId);
    if (!createdAt) {
      result.problems.push({
        kind: 'no-tenant',
        detail: `${t.hours.size} checkpoint(s) of a tenant the database does not have (its rows were removed)`,
      });
      continue;
    }
    const cmp = await compareWithChain(deps.prisma, t.tenantId, t.valid);
    result.verified = cmp.verified;
    result.purged = cmp.purged;
    result.problems.push(...cmp.problems);
    if (!start) continue;
    for (const run of missingRuns(expectedSince(deps.cron, scheduled, start, createdAt, until), t.hours)) {
      result.problems.push({
        kind: 'missing',
        detail:
          run.count === 1
            ? `no checkpoint for hour ${run.from}`
            : `no checkpoint for the ${run.count} scheduled hours ${run.from} to ${run.to}`,
      });
    }
  }
  const ok = start !== undefined && tenants.every((t) => t.problems.length === 0);
  return { ok, tenants, since: first };
}

/** The scheduled hours a tenant created at `createdAt` should have a checkpoint for. */
function expectedSince(
  cron: string,
  scheduled: readonly string[],
  start: Date,
  createdAt: Date,
  until: Date,
): string[] {
  if (createdAt <= start) return [...scheduled];
  const createdHour = hourOf(createdAt);
  // In the hour of its creation only a fire after the creation counts.
  const end = new Date(Math.min(until.getTime(), hourStart(createdHour).getTime() + 3_599_999));
  return [...scheduledHours(cron, createdAt, end), ...scheduled.filter((h) => h > createdHour)];
}
