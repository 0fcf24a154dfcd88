/**
 * Writes during a Redis failover, for the Cluster and Sentinel tests: loops writing one
 * audit entry at a time through the producer and POST /v1/audit, each refused write tried
 * again with the same eventId (what a client should do) until it is acknowledged; then
 * every acknowledged entry must be stored once, the chain whole. What the clients saw is
 * printed for docs/redis-cluster.md, never asserted on timings.
 */
import { randomUUID } from 'node:crypto';
import * as assert from 'uvu/assert';
import type { RunningBulwark } from '../../app/main.js';
import { verifyTenantChain } from '../../lib/audit/verify.js';
import type { PrismaClient } from '../../lib/clients/prisma.js';
import type { Producer } from '../../producers/index.js';
import { chainStats, storedEventIds } from './audit-db.js';
import { waitFor, withTimeout } from './env.js';

export interface FailoverWrites {
  db: { url: string };
  prisma: PrismaClient;
  bulwark: RunningBulwark;
  producer: Producer;
  tenant: { id: string; key: string };
  /** The log lines of `bulwark`, printed for an unexpected HTTP answer. */
  logLines: string[];
}

interface Seen {
  acknowledged: string[];
  /** Per kind of refusal, how many (an error message's first words, or an HTTP status). */
  refusals: Map<string, number>;
  /** The longest an acknowledged write took, ms (printed, not asserted). */
  slowestMs: number;
  /** HTTP answers other than 202, or 503 with Retry-After. */
  unexpected: string[];
}

const entry = (tenantId: string, eventId: string) => ({
  tenantId,
  eventId,
  actorType: 'user' as const,
  actorId: 'u-1',
  action: 'task:completed',
  resourceType: 'task',
  resourceId: 't-1',
});

/**
 * `workers` loops writing one entry at a time until `stop()`: through the producer, or
 * POST /v1/audit. A refused write is tried again with the same eventId (what a client
 * should do) until it is acknowledged.
 */
function writeUntilStopped(w: FailoverWrites, via: 'producer' | 'http', workers: number) {
  const { producer, bulwark, tenant } = w;
  const seen: Seen = { acknowledged: [], refusals: new Map(), slowestMs: 0, unexpected: [] };
  let stopping = false;
  const refuse = (kind: string) => seen.refusals.set(kind, (seen.refusals.get(kind) ?? 0) + 1);
  async function once(eventId: string): Promise<boolean> {
    const started = Date.now();
    try {
      if (via === 'producer') {
        await withTimeout(producer.audit.write(entry(tenant.id, eventId)), 90_000, 'a producer write');
      } else {
        const res = await withTimeout(
          fetch(`${bulwark.url}/v1/audit`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ ...entry(tenant.id, eventId), tenantId: undefined }),
          }),
          15_000,
          'an HTTP write to be answered',
        );
        const body = await res.text();
        if (res.status !== 202) {
          const answered = res.status === 503 && Number(res.headers.get('retry-after')) > 0;
          if (!answered) seen.unexpected.push(`${res.status} ${body}`);
          refuse(`HTTP ${res.status}`);
          return false;
        }
      }
      seen.slowestMs = Math.max(seen.slowestMs, Date.now() - started);
      return true;
    } catch (err) {
      refuse((err as Error).message.split(/[:.]/)[0]!.slice(0, 60));
      return false;
    }
  }
  const loops = Array.from({ length: workers }, async () => {
    while (!stopping) {
      const eventId = randomUUID();
      while (!(await once(eventId))) await new Promise((r) => setTimeout(r, 100));
      seen.acknowledged.push(eventId);
    }
  });
  return {
    seen,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return seen;
    },
  };
}

/** Every acknowledged eventId stored once, no row twice, seqs 1..n, the chain verified. */
async function assertStoredOnce(w: FailoverWrites, acknowledged: string[]): Promise<void> {
  const { db, tenant, prisma } = w;
  const want = new Set(acknowledged);
  await waitFor(
    async () => {
      const stored = new Set(await storedEventIds(db.url, tenant.id));
      return [...want].every((id) => stored.has(id));
    },
    'every acknowledged write to be stored',
    60_000,
    200,
  );
  const stats = await chainStats(db.url, tenant.id);
  assert.is(stats.rows, stats.distinctEvents, 'no entry stored twice');
  assert.is(stats.distinctSeqs, stats.rows);
  assert.is(stats.minSeq, 1);
  assert.is(stats.maxSeq, stats.rows, 'seqs 1..n, no gap');
  const chain = await verifyTenantChain(prisma, tenant.id);
  assert.ok(chain.ok, JSON.stringify(chain));
}

/** Write through a failover (`failover` resolves once it is over) and check what was stored. */
export async function duringFailover(w: FailoverWrites, what: string, failover: () => Promise<void>): Promise<void> {
  const producerWrites = writeUntilStopped(w, 'producer', 8);
  const httpWrites = writeUntilStopped(w, 'http', 4);
  await waitFor(async () => producerWrites.seen.acknowledged.length >= 50, 'writes before the failover');
  const started = Date.now();
  await failover();
  const tookMs = Date.now() - started;
  const before = producerWrites.seen.acknowledged.length;
  await waitFor(
    async () => producerWrites.seen.acknowledged.length >= before + 50,
    'writes after the failover',
    60_000,
  );
  const [p, h] = [await producerWrites.stop(), await httpWrites.stop()];
  console.log(
    `${what}: failover took ${tookMs} ms; producer ${p.acknowledged.length} acknowledged, refusals ${JSON.stringify(
      Object.fromEntries(p.refusals),
    )}, slowest ${p.slowestMs} ms; HTTP ${h.acknowledged.length} acknowledged, refusals ${JSON.stringify(
      Object.fromEntries(h.refusals),
    )}, slowest ${h.slowestMs} ms`,
  );
  assert.ok(h.acknowledged.length > 0);
  if (h.unexpected.length > 0)
    console.error(
      w.logLines.filter((l) => h.unexpected.some((u) => l.includes(/request id (\S+)"/.exec(u)?.[1] ?? '-'))),
    );
  assert.equal(h.unexpected, [], 'HTTP answers other than 202 or 503 + Retry-After');
  await assertStoredOnce(w, [...p.acknowledged, ...h.acknowledged]);
}
