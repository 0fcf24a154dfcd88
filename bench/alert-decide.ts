/**
 * Alert-policy decisions (issue 4, Speed (a)): decide() against a no-op Lua script
 * evaluated the same way (defineCommand, i.e. EVALSHA) with the same 5 keys and 16
 * arguments, on the same Redis connection at the same concurrency, in one run.
 *
 * decide() runs its full JS path (validation, quiet hours in Europe/Berlin) and the
 * script's longest path for most calls: a fresh dedupe key, a per-user log, the tenant
 * log and the cooldown key are written for every admitted alert, over BENCH_TENANTS
 * tenants. Rounds alternate no-op / decide; the median round of each is compared.
 * Throughput is compared at the worker concurrency, where latency is mostly queueing
 * behind the other calls in flight (Little's law: in-flight / rate); the p99 target is
 * judged on a second phase at concurrency 1 (one decision's own latency), and the
 * loaded p99 of both scripts is printed next to it.
 *
 * Env: BENCH_N (decisions per round, 20000), BENCH_LATENCY_N (calls per concurrency-1 round, 5000), BENCH_CONCURRENCY (default: the alert
 * queue's worker concurrency), BENCH_ROUNDS (3), BENCH_TENANTS (200), REDIS_URL.
 * BENCH_STRICT=1 exits 1 when a target is missed (ratio >= 0.5, p99 < 2 ms).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createAlertDecider, alertKeys, type AlertDecisionInput, type AlertPolicy } from '../lib/alerts/decide.js';
import { alertPolicy } from '../lib/contracts/alert.js';
import { deleteKeys } from '../test/helpers/queues.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw ? Number(raw) : fallback;
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return n;
}

const N = envInt('BENCH_N', 20_000);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', alertPolicy.concurrency);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const TENANTS = envInt('BENCH_TENANTS', 200);
const LATENCY_N = envInt('BENCH_LATENCY_N', 5000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NOOP = 'bulwarkBenchNoop';

interface Round {
  perSecond: number;
  p50: number;
  p99: number;
}

const policy: AlertPolicy = {
  maxPerWindow: 1_000_000,
  windowMs: 3_600_000,
  cooldownMs: 0,
  userLimit: 1_000_000,
  userWindowMs: 60_000,
  quietHours: { enabled: true, start: '22:00', end: '07:00', timezone: 'Europe/Berlin', mode: 'defer' },
};

const tenants = Array.from({ length: TENANTS }, () => randomUUID());
const types = ['auth.failure', 'disk.full', 'backup.failed', 'queue.stalled'];
function input(i: number): AlertDecisionInput {
  return {
    tenantId: tenants[i % TENANTS]!,
    alertId: randomUUID(),
    type: types[i % types.length]!,
    severity: i % 10 === 0 ? 'high' : 'warning',
    userId: `user-${i % 50}`,
    dedupeKey: `${i}-${randomBytes(6).toString('hex')}`,
  };
}

async function measure(count: number, fn: (i: number) => Promise<unknown>, concurrency = CONCURRENCY): Promise<Round> {
  const latencies = new Float64Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      latencies[i] = performance.now() - t0;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  const elapsed = performance.now() - started;
  latencies.sort();
  const pct = (p: number) => latencies[Math.min(count - 1, Math.floor(count * p))]!;
  return { perSecond: (count / elapsed) * 1000, p50: pct(0.5), p99: pct(0.99) };
}

const median = (rs: Round[], key: keyof Round) => [...rs].sort((a, b) => a[key] - b[key])[Math.floor(rs.length / 2)]!;
const fmt = (r: Round) =>
  `${Math.round(r.perSecond).toLocaleString('en-US').padStart(8)} decisions/s  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms`;

async function main(): Promise<number> {
  const redis = new Redis(REDIS_URL);
  const keyPrefix = `bench-alert-${randomBytes(4).toString('hex')}`;
  // Clock pinned to a weekday noon in Berlin so quiet hours are computed but never apply.
  const now = Date.parse('2026-01-15T11:00:00Z');
  const decider = createAlertDecider(redis, { keyPrefix, clock: () => new Date(now) });
  redis.defineCommand(NOOP, { numberOfKeys: 6, lua: "return { 'deliver', '', 0, '', 0, 0, '' }" });
  const noopCommand = (redis as Redis & Record<typeof NOOP, (...args: Array<string | number>) => Promise<unknown>>)[
    NOOP
  ].bind(redis);
  const noop = (i: number) => {
    const a = input(i);
    // The same keys and ARGV shape decide() sends.
    return noopCommand(
      ...alertKeys(keyPrefix, a),
      now,
      a.alertId,
      0,
      1,
      1,
      0,
      0,
      'defer',
      0,
      1_000_000,
      3_600_000,
      0,
      0,
      1_000_000,
      60_000,
      86_400_000,
      3_600_000,
    );
  };
  const decide = (i: number) => decider.decide(input(i), policy);

  try {
    console.log(
      `alert decisions: N=${N} per round, concurrency ${CONCURRENCY}, ${ROUNDS} rounds, ${TENANTS} tenants, ${REDIS_URL}`,
    );
    await measure(Math.min(N, 2000), noop);
    await measure(Math.min(N, 2000), decide);
    const noops: Round[] = [];
    const decides: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      noops.push(await measure(N, noop));
      decides.push(await measure(N, decide));
      console.log(`  round ${r + 1}  no-op  ${fmt(noops[r]!)}\n           decide ${fmt(decides[r]!)}`);
    }
    const lonelyNoops: Round[] = [];
    const lonelyDecides: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      lonelyNoops.push(await measure(LATENCY_N, noop, 1));
      lonelyDecides.push(await measure(LATENCY_N, decide, 1));
      console.log(
        `  latency round ${r + 1} (concurrency 1)  no-op  ${fmt(lonelyNoops[r]!)}\n                                   decide ${fmt(lonelyDecides[r]!)}`,
      );
    }
    const n = median(noops, 'perSecond');
    const d = median(decides, 'perSecond');
    const ratio = d.perSecond / n.perSecond;
    const p99 = median(lonelyDecides, 'p99').p99;
    console.log(`\nat concurrency ${CONCURRENCY} (median round):`);
    console.log(`  no-op script (EVALSHA): ${fmt(n)}`);
    console.log(`  decide():               ${fmt(d)}`);
    console.log(
      `at concurrency 1 (median round): no-op p99 ${median(lonelyNoops, 'p99').p99.toFixed(3)} ms, decide p99 ${p99.toFixed(3)} ms`,
    );
    console.log(
      `ratio ${ratio.toFixed(2)} (target >= 0.5) ${ratio >= 0.5 ? 'OK' : 'MISSED'}; decide p99 ${p99.toFixed(3)} ms (target < 2 ms) ${p99 < 2 ? 'OK' : 'MISSED'}`,
    );
    const met = ratio >= 0.5 && p99 < 2;
    return !met && process.env.BENCH_STRICT === '1' ? 1 : 0;
  } finally {
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
  }
}

process.exitCode = await main();
