/**
 * The fair-dispatch script (fair.lua) as typed calls for one queue: enqueue (admit or
 * park), dispatch (claim the next jobs by deficit round robin within the limits), ack,
 * finish and stats. Defined on the connection at the first call, never at import time.
 */
import type { JobsOptions } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../clients/redis.js';
import { defineScript } from '../redis-script.js';
import { defaultLimits, fairKeys, type FairKind } from './kinds.js';

const SCRIPT = { name: 'bulwarkFair', file: new URL('./fair.lua', import.meta.url), numberOfKeys: 11 };

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

export interface FairScript {
  kind: FairKind;
  keys: string[];
  /**
   * Admit the job (the caller adds it to BullMQ now; `ahead`: the tenant's cost in flight
   * before it) or park it (undefined).
   */
  enqueue(tenant: string, job: FairJob, cost: number, mayRun: boolean): Promise<{ ahead: number } | undefined>;
  /** The same enqueue, park only, queued on a MULTI (several queues parked atomically). */
  parkOn(multi: ChainableCommander, tenant: string, job: FairJob, cost: number): void;
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
  const run = (op: string, ...args: Array<string | number>) => call(...keys, op, ...head, ...args);
  return {
    kind,
    keys,
    async enqueue(tenant, job, cost, mayRun) {
      const [admitted, ahead] = (await run(
        'enqueue',
        tenant,
        job.opts.jobId,
        cost,
        JSON.stringify(job),
        mayRun ? 1 : 0,
      )) as [number, string?];
      return admitted === 1 ? { ahead: Number(ahead ?? 0) } : undefined;
    },
    parkOn(multi, tenant, job, cost) {
      const m = multi as unknown as Record<string, Call>;
      void m[SCRIPT.name]!(...keys, 'enqueue', ...head, tenant, job.opts.jobId, cost, JSON.stringify(job), 0);
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
