/**
 * The fair-dispatch gauges (docs/metrics.md § Fair dispatch), read from Redis at scrape
 * time, one series per fair queue: never a tenant id as a label (unbounded, and
 * identifying); the per-tenant view is `bulwark fair status`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { FairStats } from './script.js';

/** Reports each fair queue's stats (lib/fair/script.ts stats). */
export type FairStatsSource = () => Promise<Array<{ queue: string; stats: FairStats }>>;

const GAUGES: Array<[name: string, help: string, pick: (s: FairStats) => number]> = [
  [
    'bulwark_fair_backlog_age_seconds',
    'Age of the oldest job parked by fair dispatch in each queue (0 when none is parked)',
    (s) => s.oldestAgeMs / 1000,
  ],
  ['bulwark_fair_tenants_waiting', 'Tenants with jobs parked by fair dispatch, per queue', (s) => s.tenantsWaiting],
  ['bulwark_fair_parked_jobs', 'Jobs parked by fair dispatch, per queue', (s) => s.parkedJobs],
  [
    'bulwark_fair_largest_tenant_backlog_jobs',
    'Jobs parked of the tenant with the most parked, per queue',
    (s) => s.largestTenantJobs,
  ],
  [
    'bulwark_fair_starved_wait_seconds',
    'Longest wait of the first parked job of a tenant that is neither the one with the largest backlog nor held by its own limits, per queue: how long others wait behind it',
    (s) => s.starvedWaitMs / 1000,
  ],
  [
    'bulwark_fair_in_flight',
    'Cost released by fair dispatch and not finished (entries for audit-write, jobs otherwise), per queue',
    (s) => s.inFlight,
  ],
  ['bulwark_fair_window', 'The most cost a queue may have in flight (FAIR_AUDIT_WINDOW, …)', (s) => s.window],
];

/** Registers the gauges on `registry`; returns the setter of their source. */
export function registerFairGauges(registry: Registry): { setFairSource(source: FairStatsSource): void } {
  let source: FairStatsSource | undefined;
  // The gauges are collected concurrently in one scrape; they share one read.
  let reading: ReturnType<FairStatsSource> | undefined;
  function read(): ReturnType<FairStatsSource> | Promise<undefined> {
    if (!source) return Promise.resolve(undefined);
    if (!reading) {
      reading = source();
      const clear = () => setTimeout(() => (reading = undefined), 0);
      reading.then(clear, clear);
    }
    return reading;
  }
  for (const [name, help, pick] of GAUGES)
    new Gauge({
      name,
      help,
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        // Redis not answering leaves these out of this scrape (bulwark_ready says why).
        const all = await read().catch(() => undefined);
        if (!all) return;
        this.reset();
        for (const { queue, stats } of all) this.set({ queue }, pick(stats));
      },
    });
  return {
    setFairSource(s) {
      source = s;
    },
  };
}
