/**
 * The fair dispatcher of one process (docs/decisions/0010): enqueues tenant jobs of the
 * fair queues (those whose definition declares `fair`: lib/fair/kinds.ts) through
 * fair.lua, which admits a job at once when nobody is parked and the tenant and the
 * queue have room, and parks it otherwise; and releases parked jobs into BullMQ's wait
 * list, by deficit round robin over the tenants within their limits, whenever something
 * may have made room: a job parked, a job finished, a tick. A release is claim, add (by job id, so a second add of the same
 * job is a no-op), ack: a process that dies between claim and ack leaves a claim that
 * any dispatcher hands out again after CLAIM_STALE_MS, so nothing parked is lost.
 * Producers (API, application code) and workers each run one; nothing here starts a timer.
 */
import type { Queue } from 'bullmq';
import type { RedisClient } from '../clients/redis.js';
import type { QueueDefinition } from '../contracts/job.js';
import { createRedisDeadlines, EnqueueDeadlineError } from './deadline.js';
import { fairKindOf, type FairKind } from './kinds.js';
import { fairScript, parkMany, type EnqueueOutcome, type FairJob, type FairScript } from './script.js';

export type { FairJob } from './script.js';

export interface FairDispatcherOptions {
  redis: RedisClient;
  /** The BullMQ prefix (braced on a cluster): the fair keys sit in the queues' slot. */
  queuePrefix: string;
  /**
   * The queues this process adds released jobs to, each definition with its handle: those
   * whose definition declares `fair` are dispatched fairly, the others are ignored.
   */
  queues: ReadonlyMap<QueueDefinition, Queue>;
  /** A dispatch that failed (Redis away): what was claimed is handed out again later. Default: ignored. */
  onError?: (err: Error, queue: string) => void;
  /**
   * For callers that answer someone within a bound (the HTTP API's API_REDIS_TIMEOUT_MS):
   * an enqueue stores its job only if Redis runs it within half this many ms of the
   * call's start, and resolves within the whole (lib/fair/deadline.ts). Default: none.
   */
  deadlineBudgetMs?: number;
}

/** One job of a call that must be parked with the others, all or none (parkTogether). */
export interface FairPart {
  queue: string;
  tenant: string;
  job: FairJob;
  cost: number;
}

export interface FairDispatcher {
  /** The fair kinds this dispatcher serves, in the order of its queues. */
  kinds: readonly FairKind[];
  /** Whether `queue`'s tenant jobs go through this dispatcher. */
  serves(queue: string): boolean;
  script(queue: string): FairScript;
  /**
   * Admit (added to BullMQ now) or park the job and release what may go; resolves once
   * it is safely in Redis. `startedAt` (ms): when the caller's wait began, the origin of
   * its deadline (default: now); with a deadline budget, past it nothing is stored and
   * this rejects with EnqueueDeadlineError.
   */
  enqueue(part: FairPart, startedAt?: number): Promise<'added' | 'parked'>;
  /** Park every part in one script call (all or none), then dispatch. */
  parkTogether(parts: FairPart[], startedAt?: number): Promise<void>;
  /** Release what may go now; concurrent kicks of a queue share one run (and one more after it). */
  kick(queue: string): Promise<void>;
  /** A job of `queue` completed or failed for good: its slot frees, and the next jobs go. */
  finished(queue: string, jobId: string): void;
  /** Wait for the dispatches under way. */
  settle(): Promise<void>;
}

/**
 * A tenant's only job in flight goes to BullMQ's wait list, which workers take before
 * any prioritized job; a job released while its tenant has a cost n in flight
 * (entries for audit-write, jobs otherwise) gets priority n (BullMQ takes lower first,
 * equal ones in order). So a light tenant's job passes a busy tenant's released
 * backlog, and tenants share the workers by how much each has in flight.
 */
function withPriority(job: FairJob, ahead: number): FairJob['opts'] {
  return ahead <= 0 ? job.opts : { ...job.opts, priority: Math.min(ahead, MAX_PRIORITY) };
}

/** Ids gathered per queue and handed to `flush` once per turn of the event loop. */
function gatherPerTurn(flush: (queue: string, ids: string[]) => void) {
  const gathering = new Map<string, Set<string>>();
  return {
    add(queue: string, id: string): void {
      let ids = gathering.get(queue);
      if (!ids) {
        const gathered = (ids = new Set());
        gathering.set(queue, gathered);
        setImmediate(() => {
          gathering.delete(queue);
          flush(queue, [...gathered]);
        });
      }
      ids.add(id);
    },
    /** Queues with ids not yet handed over. */
    get size(): number {
      return gathering.size;
    },
  };
}

/** BullMQ's largest priority (2^21 - 1). */
const MAX_PRIORITY = 2_097_151;

export function createFairDispatcher(options: FairDispatcherOptions): FairDispatcher {
  const scripts = new Map<string, FairScript>();
  const handles = new Map<string, Queue>();
  const kinds: FairKind[] = [];
  for (const [def, handle] of options.queues) {
    const kind = fairKindOf(def);
    if (!kind) continue;
    kinds.push(kind);
    handles.set(kind.queue, handle);
    scripts.set(kind.queue, fairScript(options.redis, options.queuePrefix, kind));
  }
  const state = new Map<string, { run: Promise<void> | undefined; again: boolean }>();
  const pending = new Set<Promise<unknown>>();
  const budget = options.deadlineBudgetMs;
  const deadlines = budget ? createRedisDeadlines(budget) : undefined;

  function scriptOf(queue: string): FairScript {
    const s = scripts.get(queue);
    if (!s) throw new Error(`queue ${queue} is not dispatched fairly here (no handle, or not a fair kind)`);
    return s;
  }

  function track<T>(p: Promise<T>): Promise<T> {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => undefined);
    return p;
  }

  async function dispatchAll(queue: string): Promise<void> {
    const s = scriptOf(queue);
    const handle = handles.get(queue)!;
    for (;;) {
      const claimed = await s.dispatch();
      if (claimed.length === 0) return;
      await handle.addBulk(
        claimed.map((c) => ({ name: c.job.name, data: c.job.data, opts: withPriority(c.job, c.ahead) })),
      );
      await s.ack(claimed.map((c) => c.member));
    }
  }

  function kick(queue: string): Promise<void> {
    let st = state.get(queue);
    if (!st) state.set(queue, (st = { run: undefined, again: false }));
    const s = st;
    if (s.run) {
      s.again = true;
      return s.run;
    }
    const loop = async () => {
      try {
        do {
          s.again = false;
          await dispatchAll(queue);
        } while (s.again);
      } catch (err) {
        options.onError?.(err as Error, queue);
      } finally {
        s.run = undefined;
      }
    };
    s.run = track(loop());
    return s.run;
  }

  /**
   * Run a storing call under the deadline, if there is one. A refusal whose answer
   * moved the clock offset came from the offset, not from a late run: sent once more.
   */
  async function decide<T extends EnqueueOutcome | { outcome: 'parked' | 'expired'; redisNow: number }>(
    startedAt: number | undefined,
    call: (deadline: number) => Promise<T>,
  ): Promise<T> {
    if (!deadlines || !budget) return call(0);
    const origin = startedAt ?? Date.now();
    for (let first = true; ; first = false) {
      const sentAt = Date.now();
      // Already late here: not even sent (the caller is about to be told "not stored").
      if (sentAt > origin + budget / 2) throw new EnqueueDeadlineError(budget);
      const r = await call(deadlines.deadlineFor(origin));
      const moved = deadlines.observe(sentAt, Date.now(), r.redisNow);
      if (r.outcome !== 'expired') return r;
      if (!(moved && first)) throw new EnqueueDeadlineError(budget);
    }
  }

  /** Wait for `work` (delivery of a job already stored) until the caller's bound, no longer. */
  async function withinBudget(startedAt: number | undefined, work: Promise<unknown>): Promise<void> {
    if (!budget) {
      await work;
      return;
    }
    // The caller's bound less a margin, so it is answered "stored" before its own timer fires.
    const left = (startedAt ?? Date.now()) + budget - 50 - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const due = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, left))));
    await Promise.race([work.catch(() => undefined), due]).finally(() => clearTimeout(timer));
  }

  const reportTo = (queue: string) => (err: unknown) => options.onError?.(err as Error, queue);
  // Acks of admitted jobs, and jobs that finished (their slots freed, then a dispatch):
  // one script call per queue and turn of the event loop, whatever the number of jobs.
  const acks = gatherPerTurn((queue, members) => void track(scriptOf(queue).ack(members).catch(reportTo(queue))));
  const finishes = gatherPerTurn(
    (queue, ids) =>
      void track(
        scriptOf(queue)
          .finish(ids)
          .then(() => kick(queue), reportTo(queue)),
      ),
  );

  return {
    kinds,
    serves: (queue) => scripts.has(queue),
    script: scriptOf,
    async enqueue(part, startedAt) {
      const s = scriptOf(part.queue);
      const r = await decide(startedAt, (deadline) => s.enqueue(part.tenant, part.job, part.cost, true, deadline));
      if (r.outcome === 'admitted') {
        // Stored (claimed) already: an add that fails or never happens is handed out
        // again by dispatch after CLAIM_STALE_MS, so its failure is only reported.
        const added = handles
          .get(part.queue)!
          .add(part.job.name, part.job.data, withPriority(part.job, r.ahead))
          .then(() => acks.add(part.queue, r.member), reportTo(part.queue));
        await withinBudget(startedAt, track(added));
        return 'added';
      }
      // Released now if there is room: the caller finds it in BullMQ when this resolves.
      await withinBudget(startedAt, kick(part.queue));
      return 'parked';
    },
    async parkTogether(parts, startedAt) {
      const withScripts = parts.map((p) => ({ ...p, script: scriptOf(p.queue) }));
      await decide(startedAt, async (deadline) => {
        const r = await parkMany(options.redis, withScripts, deadline);
        return { outcome: r.parked ? ('parked' as const) : ('expired' as const), redisNow: r.redisNow };
      });
      await withinBudget(startedAt, Promise.all([...new Set(parts.map((p) => p.queue))].map(kick)));
    },
    kick,
    finished(queue, jobId) {
      if (scripts.has(queue)) finishes.add(queue, jobId);
    },
    async settle() {
      while (pending.size > 0 || finishes.size > 0 || acks.size > 0) {
        if (finishes.size > 0 || acks.size > 0) await new Promise((r) => setImmediate(r));
        else await Promise.allSettled([...pending]);
      }
    },
  };
}
