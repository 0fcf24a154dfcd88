/**
 * The fair-dispatch script (fair.lua) as typed calls for one queue: enqueue (admit or
 * park), dispatch (claim the next jobs by deficit round robin within the limits), ack,
 * finish and stats. Defined on the connection at the first call, never at import time.
 */
import type { JobsOptions } from 'bullmq';
import type { RedisClient } from '../clients/redis.js';
import { defineScript } from '../redis-script.js';
import { defaultLimits, fairKeys, type FairKind } from './kinds.js';

// The key count comes first in each call: eleven per queue (parkMany takes several queues).
const SCRIPT = { name: 'bulwarkFair', file: new URL('./fair.lua', import.meta.url) };

/** Claims a dispatcher has not acked within this long are handed out again. */
export const CLAIM_STALE_MS = 10_000;
/** Most jobs one dispatch call hands out, and most tenants it visits. */
const DISPATCH_MAX_JOBS = 200;
const DISPATCH_MAX_VISITS = 1000;

/** A job as parked and handed out: what BullMQ's add takes (opts carry the jobId). */
export interface FairJob {
  name: string;
  data: unknown;
  opts: JobsOptions & { jobId: string };
}

export interface FairStats {
  tenantsWaiting: number;
  parkedJobs: number;
  largestTenantJobs: number;
  oldestAgeMs: number;
  /** Longest wait of a tenant's first parked job, among tenants neither the largest nor held by their own limits. */
  starvedWaitMs: number;
  inFlight: number;
  window: number;
  tenants: Array<{ tenant: string; jobs: number; headCost: number; headAgeMs: number; running: number; held: boolean }>;
}

type Call = (...args: Array<string | number>) => Promise<unknown>;

/**
 * What an enqueue did: admitted (stored claimed under `member`: add it to BullMQ, then
 * ack), parked, or nothing (`expired`: Redis ran it after its deadline). `redisNow` is
 * Redis's clock when it ran (lib/fair/deadline.ts keeps the offset to it).
 */
export type EnqueueOutcome =
  | { outcome: 'admitted'; ahead: number; member: string; redisNow: number }
  | { outcome: 'parked' | 'expired'; redisNow: number };

export interface FairScript {
  kind: FairKind;
  keys: string[];
  /**
   * Admit the job (claimed: the caller adds it to BullMQ now, then acks its member;
   * `ahead`: the tenant's cost in flight before it) or park it; past `deadline` (Redis
   * ms, 0: none) store nothing.
   */
  enqueue(tenant: string, job: FairJob, cost: number, mayRun: boolean, deadline?: number): Promise<EnqueueOutcome>;
  dispatch(): Promise<Array<{ member: string; job: FairJob; ahead: number }>>;
  ack(members: string[]): Promise<number>;
  finish(jobIds: string[]): Promise<number>;
  stats(): Promise<FairStats>;
}

export function fairScript(redis: RedisClient, queuePrefix: string, kind: FairKind): FairScript {
  const call = defineScript<Array<string | number>, unknown>(redis, SCRIPT) as Call;
  const keys = fairKeys(queuePrefix, kind.queue);
  const limits = defaultLimits(kind);
  const head = [limits.maxRunning, limits.perSecond, kind.defaultWindow];
  const run = (op: string, ...args: Array<string | number>) => call(keys.length, ...keys, op, ...head, ...args);
  return {
    kind,
    keys,
    async enqueue(tenant, job, cost, mayRun, deadline = 0) {
      const r = (await run('enqueue', tenant, job.opts.jobId, cost, JSON.stringify(job), mayRun ? 1 : 0, deadline)) as [
        number,
        ...Array<string | number>,
      ];
      if (r[0] === 1) return { outcome: 'admitted', ahead: Number(r[1]), member: String(r[2]), redisNow: Number(r[3]) };
      return { outcome: r[0] === 0 ? 'parked' : 'expired', redisNow: Number(r[1]) };
    },
    async dispatch() {
      const flat = (await run('dispatch', DISPATCH_MAX_JOBS, kind.quantum, CLAIM_STALE_MS, DISPATCH_MAX_VISITS)) as
        string[] | null;
      const out: Array<{ member: string; job: FairJob; ahead: number }> = [];
      for (let i = 0; i + 2 < (flat?.length ?? 0); i += 3)
        out.push({ member: flat![i]!, job: JSON.parse(flat![i + 1]!) as FairJob, ahead: Number(flat![i + 2]) });
      return out;
    },
    async ack(members) {
      return members.length === 0 ? 0 : Number(await run('ack', ...members));
    },
    async finish(jobIds) {
      return jobIds.length === 0 ? 0 : Number(await run('finish', ...jobIds));
    },
    async stats() {
      const r = ((await run('stats')) as Array<string | number>).map((v, i) => (i < 7 ? Number(v) : v));
      const tenants: FairStats['tenants'] = [];
      for (let i = 7; i + 5 < r.length; i += 6)
        tenants.push({
          tenant: String(r[i]),
          jobs: Number(r[i + 1]),
          headCost: Number(r[i + 2]),
          headAgeMs: Number(r[i + 3]),
          running: Number(r[i + 4]),
          held: Number(r[i + 5]) === 1,
        });
      const [tenantsWaiting, parkedJobs, largestTenantJobs, oldestAgeMs, starvedWaitMs, inFlight, window] =
        r as number[];
      return {
        tenantsWaiting: tenantsWaiting!,
        parkedJobs: parkedJobs!,
        largestTenantJobs: largestTenantJobs!,
        oldestAgeMs: oldestAgeMs!,
        starvedWaitMs: starvedWaitMs!,
        inFlight: inFlight!,
        window: window!,
        tenants,
      };
    },
  };
}

/**
 * Park jobs of one or more fair queues in one script call: every one or none (none when
 * Redis runs it after `deadline`, Redis ms, 0: none). All the queues' keys share the
 * prefix's slot, so one call may touch them all, on a cluster too.
 */
export async function parkMany(
  redis: RedisClient,
  parts: Array<{ script: FairScript; tenant: string; job: FairJob; cost: number }>,
  deadline = 0,
): Promise<{ parked: boolean; redisNow: number }> {
  const call = defineScript<Array<string | number>, [number, number]>(redis, SCRIPT);
  const groups: FairScript[] = [];
  const args: Array<string | number> = [];
  for (const p of parts) {
    let g = groups.indexOf(p.script);
    if (g < 0) g = groups.push(p.script) - 1;
    args.push(g, p.tenant, p.job.opts.jobId, p.cost, JSON.stringify(p.job));
  }
  const keys = groups.flatMap((g) => g.keys);
  // The defaults in ARGV[2..4] are the first queue's; parking reads none of them.
  const limits = defaultLimits(groups[0]!.kind);
  const [result, redisNow] = await call(
    keys.length,
    ...keys,
    'parkMany',
    limits.maxRunning,
    limits.perSecond,
    groups[0]!.kind.defaultWindow,
    deadline,
    ...args,
  );
  return { parked: Number(result) === 0, redisNow: Number(redisNow) };
}
