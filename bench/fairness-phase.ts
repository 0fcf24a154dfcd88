/**
 * One phase of `npm run bench:fairness`: Bulwark's workers in a child process (the
 * compiled build) on a fresh queue prefix; tenant A enqueues its backlog (audit entries
 * in writeMany jobs, or alerts) as fast as its producer goes, while tenant B sends one
 * entry (or alert) every B_EVERY_MS. A's throughput is its backlog over the time from
 * its first enqueue to its last row; B's latency is from just before its call to the
 * poll (every 2 ms) that first sees its row committed (an alert: decided).
 */
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { createProducer } from '../producers/index.js';
import { dropPrefix, startChild, stopChild } from './bulwark.js';
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
  /** The producer parks and dispatches (false: plain BullMQ adds, no fairness). */
  fair: boolean;
  timeoutMs: number;
}

export interface FairPhaseResult {
  aPerSec: number;
  aMs: number;
  bLatenciesMs: number[];
}

/** How many of `tenant`'s rows are committed (audit) or decided (alerts), with their ids. */
async function doneIds(db: pg.Client, kind: 'audit' | 'alert', tenant: string): Promise<string[]> {
  const sql =
    kind === 'audit'
      ? `SELECT event_id AS id FROM audit_log WHERE tenant_id = $1 AND action = 'bench:write'`
      : `SELECT id::text AS id FROM alert_ledger WHERE tenant_id = $1 AND outcome <> 'received'`;
  return (await db.query<{ id: string }>(sql, [tenant])).rows.map((r) => r.id);
}

async function doneCount(db: pg.Client, kind: 'audit' | 'alert', tenant: string): Promise<number> {
  const sql =
    kind === 'audit'
      ? `SELECT last_seq AS n FROM audit_chain_heads WHERE tenant_id = $1`
      : `SELECT count(*)::int AS n FROM alert_ledger WHERE tenant_id = $1 AND outcome <> 'received'`;
  return Number((await db.query<{ n: number }>(sql, [tenant])).rows[0]?.n ?? 0);
}

const auditEntry = (tenantId: string, eventId: string) => ({
  tenantId,
  eventId,
  actorType: 'service' as const,
  actorId: 'bench',
  action: 'bench:write',
  resourceType: 'bench',
  resourceId: eventId,
  metadata: { note: 'fairness bench' },
});

export async function runFairPhase(o: FairPhaseOptions): Promise<FairPhaseResult> {
  const prefix = randomPrefix(o.label);
  const producer = createProducer({ redisUrl: o.redisUrl, queuePrefix: prefix, fair: o.fair });
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  let child: ChildProcess | undefined;
  try {
    const started = await startChild({ ...o, cpuProfDir: undefined }, prefix);
    child = started.child;
    await started.started;
    const aBefore = await doneCount(o.db, o.kind, o.a);
    const t0 = performance.now();
    let aEnd = t0;
    const aDone = (async () => {
      if (o.backlog === 0) return;
      if (o.kind === 'audit') {
        const jobs = Math.ceil(o.backlog / o.perJob);
        await pool(jobs, 4, (j) =>
          producer.audit.writeMany(
            Array.from({ length: Math.min(o.perJob, o.backlog - j * o.perJob) }, (_x, k) =>
              auditEntry(o.a, `${o.label}-a-${j}-${k}`),
            ),
          ),
        );
      } else {
        await pool(o.backlog, 50, (i) =>
          producer.alert.send({ tenantId: o.a, type: 'bench.load', severity: 'warning', title: `A ${o.label} ${i}` }),
        );
      }
      while ((await doneCount(o.db, o.kind, o.a)) - aBefore < o.backlog) {
        if (performance.now() - t0 > o.timeoutMs) throw new Error(`${o.label}: A's backlog not done in time`);
        await sleep(20);
      }
      aEnd = performance.now();
    })();
    // B: one send every bEveryMs while A's backlog lasts (at least bSends of them).
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let aFinished = o.backlog === 0;
    void aDone.finally(() => (aFinished = true)).catch(() => undefined);
    const bSends = (async () => {
      for (let i = 0; i < o.bSends || (!aFinished && o.bSends > 0); i++) {
        const id = `${o.label}-b-${i}`;
        const at = performance.now();
        if (o.kind === 'audit') {
          sentAt.set(id, at);
          await producer.audit.write(auditEntry(o.b, id));
        } else {
          const { alertId } = await producer.alert.send({
            tenantId: o.b,
            type: `bench.b${i}`,
            severity: 'warning',
            title: id,
          });
          sentAt.set(alertId, at);
        }
        await sleep(Math.max(0, o.bEveryMs - (performance.now() - at)));
      }
    })();
    // Poll B's committed rows every 2 ms.
    const seen = new Set<string>();
    let sending = true;
    void bSends.finally(() => (sending = false)).catch(() => undefined);
    while (sending || seen.size < sentAt.size) {
      if (performance.now() - t0 > o.timeoutMs) throw new Error(`${o.label}: B's rows not committed in time`);
      const ids = await doneIds(o.db, o.kind, o.b);
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
    return { aPerSec: o.backlog === 0 ? 0 : (o.backlog * 1000) / aMs, aMs, bLatenciesMs: latencies };
  } finally {
    if (child) await stopChild(child);
    await producer.close();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
}
