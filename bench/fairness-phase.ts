/**
 * One phase of `npm run bench:fairness`: workers in a child process on a fresh queue
 * prefix; tenant A enqueues its backlog (audit entries in writeMany jobs, or alerts) as
 * fast as it can, while tenant B sends one entry (or alert) every B_EVERY_MS. A's
 * throughput is its backlog over the time from its first enqueue to its last row; B's
 * latency is from just before its call to the poll (every 2 ms) that first sees its row
 * committed (an alert: decided). The workers are Bulwark's (the compiled build, with or
 * without fair dispatch) or the floor's (fairness-floor.ts: raw parts, a queue per tenant).
 */
import { Redis } from 'ioredis';
import type pg from 'pg';
import { dropPrefix } from './bulwark.js';
import { startBulwarkLanes } from './fairness-bulwark.js';
import { startFloorLanes } from './fairness-floor.js';
import { pool, randomPrefix, sleep } from './util.js';

export interface FairPhaseOptions {
  label: string;
  kind: 'audit' | 'alert';
  databaseUrl: string;
  redisUrl: string;
  masterKeys: string;
  db: pg.Client;
  a: string;
  b: string;
  /** A's backlog: entries (audit) or alerts; 0 for none. */
  backlog: number;
  perJob: number;
  /** B's sends; 0 for none. B runs while A's backlog lasts, at least this many. */
  bSends: number;
  bEveryMs: number;
  /** Who runs the jobs: Bulwark with fair dispatch, Bulwark without (plain FIFO), or the floor. */
  system: 'fair' | 'fifo' | 'floor';
  /** The floor's table (fairness-floor.ts), created by the caller. */
  floorTable: string;
  timeoutMs: number;
}

export interface BStages {
  parked: number[];
  waiting: number[];
  running: number[];
}

export interface FairPhaseResult {
  aPerSec: number;
  aMs: number;
  bLatenciesMs: number[];
  bStages?: BStages;
}

/** What a phase drives: A's backlog, B's sends, and how to see them done. */
export interface FairLanes {
  /** A's unit j: a writeMany of `entries` entries (audit), or one alert. */
  sendA(j: number, entries: number): Promise<unknown>;
  /** B's send i; resolves to the id its done row carries. */
  sendB(i: number): Promise<string>;
  /** Ids of B's done rows. */
  doneIdsB(): Promise<string[]>;
  /** How many of A's units (entries or alerts) are done. */
  doneCountA(): Promise<number>;
  /**
   * Where B's time went, from the BullMQ jobs still kept (the last 1,000 completed): sent
   * to added (parked by fair dispatch), added to started (waiting in BullMQ), started to
   * finished (the worker: room, parsing, the commit). `sentAt` is wall-clock ms by id.
   */
  stagesB?(sentAt: Map<string, number>): Promise<BStages>;
  close(): Promise<void>;
}

export async function runFairPhase(o: FairPhaseOptions): Promise<FairPhaseResult> {
  const prefix = randomPrefix(o.label);
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  let lanes: FairLanes | undefined;
  try {
    lanes = o.system === 'floor' ? await startFloorLanes(o, prefix) : await startBulwarkLanes(o, prefix);
    const l = lanes;
    const aBefore = await l.doneCountA();
    const t0 = performance.now();
    let aEnd = t0;
    const aDone = (async () => {
      if (o.backlog === 0) return;
      const per = o.kind === 'audit' ? o.perJob : 1;
      const units = Math.ceil(o.backlog / per);
      await pool(units, o.kind === 'audit' ? 4 : 50, (j) => l.sendA(j, Math.min(per, o.backlog - j * per)));
      while ((await l.doneCountA()) - aBefore < o.backlog) {
        if (performance.now() - t0 > o.timeoutMs) throw new Error(`${o.label}: A's backlog not done in time`);
        await sleep(20);
      }
      aEnd = performance.now();
    })();
    // B: one send every bEveryMs while A's backlog lasts (at least bSends of them).
    const sentAt = new Map<string, number>();
    const sentWall = new Map<string, number>();
    const latencies: number[] = [];
    let aFinished = o.backlog === 0;
    void aDone.finally(() => (aFinished = true)).catch(() => undefined);
    const bSends = (async () => {
      for (let i = 0; i < o.bSends || (!aFinished && o.bSends > 0); i++) {
        const at = performance.now();
        const wall = Date.now();
        const id = await l.sendB(i);
        sentAt.set(id, at);
        sentWall.set(id, wall);
        await sleep(Math.max(0, o.bEveryMs - (performance.now() - at)));
      }
    })();
    // Poll B's done rows every 2 ms.
    const seen = new Set<string>();
    let sending = true;
    void bSends.finally(() => (sending = false)).catch(() => undefined);
    while (sending || seen.size < sentAt.size) {
      if (performance.now() - t0 > o.timeoutMs) throw new Error(`${o.label}: B's rows not committed in time`);
      const ids = await l.doneIdsB();
      const now = performance.now();
      for (const id of ids) {
        const at = sentAt.get(id);
        if (at !== undefined && !seen.has(id)) {
          seen.add(id);
          latencies.push(now - at);
        }
      }
      await sleep(2);
    }
    await bSends;
    await aDone;
    const aMs = aEnd - t0;
    const bStages = o.bSends > 0 ? await l.stagesB?.(sentWall) : undefined;
    return { aPerSec: o.backlog === 0 ? 0 : (o.backlog * 1000) / aMs, aMs, bLatenciesMs: latencies, bStages };
  } finally {
    await lanes?.close();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
