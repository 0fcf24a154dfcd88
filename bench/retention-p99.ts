/**
 * bench:retention, part 4: audit write p99 during a purge against p99 alone (issue 17:
 * at most 2x), with the same measure taken around the floor purge (raw pg, nothing of
 * Bulwark: bench/retention.ts floorRows) and around the raw DELETE, so what any deletion
 * of those rows costs the appends on this machine is printed beside Bulwark's figure.
 * Each purge runs on its own copy of the seeded database, its p99 alone measured on that
 * copy just before.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { recordAuditEntriesInTx } from '../lib/audit/record.js';
import { createPrisma, type PrismaClient } from '../lib/clients/prisma.js';
import { envInt, log, pool } from './util.js';

const WRITERS = envInt('BENCH_WRITERS', 2);
const WRITE_SECONDS = envInt('BENCH_WRITE_SECONDS', 10);

export const percentile = (xs: number[], p: number) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN;

/** Append one entry at a time from `WRITERS` loops until `stop()`; returns each append's latency (ms). */
function writers(prisma: PrismaClient, tenant: string): { stop: () => Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const done = pool(WRITERS, WRITERS, async () => {
    while (running) {
      const t0 = performance.now();
      await prisma.$transaction((tx) =>
        recordAuditEntriesInTx(tx, [
          {
            tenantId: tenant,
            actorType: 'user',
            actorId: 'w',
            action: 'task:done',
            resourceType: 'task',
            resourceId: randomUUID(),
          },
        ]),
      );
      latencies.push(performance.now() - t0);
    }
  });
  return {
    stop: async () => {
      running = false;
      await done;
      return latencies;
    },
  };
}

export interface PurgeUnderWrites {
  label: string;
  /** Purge the expired rows of the copy at `url`; resolves with how many went. */
  purge: (url: string) => Promise<number>;
}

export interface WriteP99 {
  label: string;
  p99Alone: number;
  p99During: number;
  ratio: number;
}

/**
 * For each purge: a fresh copy (`copy`), appends alone for WRITE_SECONDS, then appends
 * while it purges. Prints and returns p99 during / p99 alone for each.
 */
export async function writeP99(
  tenant: string,
  copy: (label: string) => Promise<{ url: string; drop: () => Promise<void> }>,
  purges: PurgeUnderWrites[],
): Promise<WriteP99[]> {
  const out: WriteP99[] = [];
  for (const p of purges) {
    const busy = await copy(`w${out.length}`);
    const wp = createPrisma({ databaseUrl: busy.url }, { max: WRITERS + 1 });
    try {
      const alone = writers(wp, tenant);
      await new Promise((r) => setTimeout(r, WRITE_SECONDS * 1000));
      const base = await alone.stop();
      const during = writers(wp, tenant);
      // The purge runs in this process, as it does in a worker that also writes audit
      // entries: how long it holds the event loop is part of what the appends wait for.
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const t0 = performance.now();
      const deleted = await p.purge(busy.url);
      const ms = performance.now() - t0;
      loop.disable();
      const under = await during.stop();
      const r = { label: p.label, p99Alone: percentile(base, 99), p99During: percentile(under, 99), ratio: 0 };
      r.ratio = r.p99During / r.p99Alone;
      out.push(r);
      log(
        `  audit write p99, ${p.label.padEnd(13)} ${r.p99Alone.toFixed(1)} ms alone (${base.length} appends) -> ${r.p99During.toFixed(1)} ms during (${under.length} appends while ${deleted} rows went in ${ms.toFixed(0)} ms)  ratio ${r.ratio.toFixed(2)}; event loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms, max ${(loop.max / 1e6).toFixed(0)} ms`,
      );
    } finally {
      await wp.$disconnect();
      await busy.drop();
    }
  }
  return out;
}
