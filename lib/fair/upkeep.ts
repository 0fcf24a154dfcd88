/**
 * What every worker process does for fair dispatch besides releasing jobs as they finish
 * (docs/decisions/0010): it writes the queues' windows to Redis, and on a timer
 *   - dispatches (tenants held by their rate get their next jobs as tokens refill, and
 *     claims left by a dead dispatcher are handed out again),
 *   - copies the limits of the tenants that enqueued lately from their settings into
 *     Redis (a settings change applies within FAIR_LIMITS_REFRESH_MS),
 *   - frees the slots of released jobs that ended without a word to the dispatcher (a
 *     job removed from Bull Board, a process killed between completing a job and freeing
 *     its slot): those older than a minute whose BullMQ job is finished or gone.
 * Every process doing it is harmless: each step is idempotent.
 */
import type { Queue } from 'bullmq';
import type pg from 'pg';
import type { RedisClient } from '../clients/redis.js';
import type { Logger } from '../logger.js';
import { isUuid } from '../contracts/common.js';
import { tenantSettingsSchema } from '../tenants/settings.js';
import type { FairDispatcher } from './dispatcher.js';
import { defaultLimits } from './kinds.js';

/** How often the limits of recently enqueuing tenants are read again. */
export const FAIR_LIMITS_REFRESH_MS = 2000;
/** A released job older than this whose BullMQ job has ended frees its slot. */
const ORPHAN_AGE_MS = 60_000;
const RECONCILE_EVERY_MS = 15_000;
/** Tenants that enqueued within this long have their limits kept in Redis. */
const SEEN_MS = 15 * 60_000;

export interface FairUpkeepOptions {
  dispatcher: FairDispatcher;
  redis: RedisClient;
  pg: pg.Pool;
  queues: ReadonlyMap<string, Queue>;
  /** Cost in flight per queue across every process (FAIR_AUDIT_WINDOW, FAIR_ALERT_WINDOW, …). */
  windows: ReadonlyMap<string, number>;
  /** Interval of the dispatch tick. */
  tickMs: number;
  logger: Logger;
}

const jobsSchema = tenantSettingsSchema.shape.jobs;

export function startFairUpkeep(o: FairUpkeepOptions): { stop(): Promise<void> } {
  const kinds = o.dispatcher.kinds;
  let stopped = false;
  let lastLimits = 0;
  let lastReconcile = Date.now();
  let running: Promise<void> | undefined;

  async function redisNow(): Promise<number> {
    const [s, us] = await o.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  async function writeWindows(): Promise<void> {
    for (const k of kinds) {
      const w = o.windows.get(k.queue);
      if (w !== undefined) await o.redis.hset(o.dispatcher.script(k.queue).keys[6]!, 'window', w);
    }
  }

  async function refreshLimits(now: number): Promise<void> {
    const seen = new Map<string, string[]>();
    for (const k of kinds) {
      const key = o.dispatcher.script(k.queue).keys[9]!;
      await o.redis.zremrangebyscore(key, '-inf', now - SEEN_MS);
      seen.set(k.queue, (await o.redis.zrangebyscore(key, now - SEEN_MS, '+inf')).filter(isUuid));
    }
    const ids = [...new Set([...seen.values()].flat())];
    if (ids.length === 0) return;
    const { rows } = await o.pg.query<{ id: string; jobs: unknown }>(
      `SELECT tenant_id::text AS id, settings->'jobs' AS jobs FROM tenant_settings WHERE tenant_id = ANY($1::uuid[])`,
      [ids],
    );
    const byTenant = new Map(rows.map((r) => [r.id, jobsSchema.safeParse(r.jobs ?? {})]));
    for (const k of kinds) {
      const key = o.dispatcher.script(k.queue).keys[7]!;
      const defaults = defaultLimits(k);
      for (const id of seen.get(k.queue) ?? []) {
        const parsed = byTenant.get(id);
        const l = parsed?.success ? parsed.data[k.setting] : defaults;
        if (l.maxRunning === defaults.maxRunning && l.perSecond === defaults.perSecond) await o.redis.hdel(key, id);
        else await o.redis.hset(key, id, `${l.maxRunning}|${l.perSecond}`);
      }
    }
  }

  async function reconcile(now: number): Promise<void> {
    for (const k of kinds) {
      const script = o.dispatcher.script(k.queue);
      const queue = o.queues.get(k.queue)!;
      const released = await o.redis.hgetall(script.keys[5]!);
      const orphans: string[] = [];
      for (const [jobId, v] of Object.entries(released)) {
        if (now - Number(v.split('|')[2]) < ORPHAN_AGE_MS) continue;
        const state = await queue.getJobState(jobId);
        if (state === 'completed' || state === 'failed' || state === 'unknown') orphans.push(jobId);
      }
      const freed = await script.finish(orphans);
      if (freed > 0) {
        o.logger.warn(
          { event: 'fair_slots_reclaimed', queue: k.queue, count: freed },
          'fair slots of ended jobs freed',
        );
        await o.dispatcher.kick(k.queue);
      }
    }
  }

  async function tick(): Promise<void> {
    for (const k of kinds) await o.dispatcher.kick(k.queue);
    const now = await redisNow();
    if (Date.now() - lastLimits >= FAIR_LIMITS_REFRESH_MS) {
      lastLimits = Date.now();
      await refreshLimits(now);
    }
    if (Date.now() - lastReconcile >= RECONCILE_EVERY_MS) {
      lastReconcile = Date.now();
      await reconcile(now);
    }
  }

  const timer = setInterval(() => {
    if (running || stopped) return;
    running = tick()
      .catch((err: unknown) => o.logger.warn({ event: 'fair_upkeep_failed', err }, 'fair dispatch upkeep failed'))
      .finally(() => (running = undefined));
  }, o.tickMs);
  timer.unref();
  void writeWindows().catch((err: unknown) =>
    o.logger.warn({ event: 'fair_upkeep_failed', err }, 'could not write the fair windows'),
  );

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
