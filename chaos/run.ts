/**
 * One scenario under load: warm up, inject, keep the load on while it recovers, stop,
 * let the queue drain, then reconcile what was acknowledged with what was stored,
 * verify the chains and give the verdict.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { reconcile, type Ledger } from './ledger.js';
import { startLoad, type Sent } from './load.js';
import type { Scenario, Window } from './scenarios.js';
import { sleep } from './services/process.js';
import type { Stack } from './stack.js';

export interface Timing {
  /** Requests per second of the load. */
  rate: number;
  warmMs: number;
  holdMs: number;
  /** Load kept on after the fault is lifted. */
  afterMs: number;
  /** The bound every request must be answered within (2 s), and the slack allowed on top. */
  boundMs: number;
  slackMs: number;
  drainMs: number;
}

export interface Outcome {
  name: string;
  ledger: Ledger;
  requests: number;
  skipped: number;
  chainOk: boolean;
  /** Seconds from the fault's end to the first 2xx of a request sent after it; undefined: never. */
  recoverS: number | undefined;
  /** Slowest answer (ms) of the requests sent during the fault; `timeout` counts as the deadline. */
  worstMs: number;
  peakRssMb: number;
  /** Status counts of the load's answers. */
  statuses: Map<string, number>;
  failures: string[];
  notes: string[];
}

const RECOVERY_CAP_MS = 60_000;

const isOk = (s: Sent) => typeof s.status === 'number' && s.status >= 200 && s.status < 300;

function recoveredAfter(sent: readonly Sent[], end: number): number | undefined {
  const first = sent.filter((s) => s.t0 >= end && isOk(s)).sort((a, b) => a.t1 - b.t1)[0];
  return first ? Math.max(0, first.t1 - end) / 1000 : undefined;
}

export async function runScenario(
  stack: Stack,
  scenario: Scenario,
  runId: string,
  index: number,
  timing: Timing,
): Promise<Outcome> {
  const label = `${runId}.s${index}`;
  const deadlineMs = timing.boundMs + timing.slackMs;
  const targets = [stack.primary.url];
  let turn = 0;
  const failures: string[] = [];
  const deaths: string[] = [];
  // A supervisor, as systemd or Kubernetes would be: a process that died by itself is
  // started again (and the scenario fails for it).
  let supervising = true;
  const supervise = (async () => {
    while (supervising) {
      const died = stack.primary.takeDeaths().concat(stack.second.takeDeaths());
      if (died.length) {
        deaths.push(...died);
        if (died.some((d) => d.startsWith(stack.primary.name)))
          await stack.primary.start().catch((e: Error) => deaths.push(`restart failed: ${e.message}`));
      }
      await sleep(100);
    }
  })();
  stack.primary.takePeakRssMb();
  stack.second.takePeakRssMb();

  // The harness's own event-loop delay: when it is large, the harness (not Bulwark) was
  // starved, and its timings (timeouts included) say more about the machine than about Bulwark.
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  // In flight at most twice what the rate keeps in flight while every request waits its deadline.
  const maxInFlight = Math.ceil((timing.rate * deadlineMs * 2) / 1000);
  const load = startLoad({
    rate: timing.rate,
    target: () => targets[turn++ % targets.length]!,
    keys: stack.keys,
    label,
    deadlineMs,
    maxInFlight,
  });
  await sleep(timing.warmMs);
  let w: Window;
  try {
    w = await scenario.inject({ stack, holdMs: timing.holdMs, deadlineMs, targets });
  } catch (err) {
    w = {
      start: Date.now(),
      end: Date.now(),
      notes: [],
      findings: [`the fault could not be injected or lifted: ${(err as Error).message}`],
    };
  }
  // The load stays on until a write sent after the fault is acknowledged (at most
  // RECOVERY_CAP_MS), then for afterMs more: the time to recover is measured, not cut off.
  const recoverBy = Date.now() + RECOVERY_CAP_MS;
  while (Date.now() < recoverBy && !load.sent.some((s) => s.t0 >= w.end && isOk(s))) await sleep(100);
  await sleep(timing.afterMs);
  const sent = await load.stop();
  lag.disable();
  const harnessLagMs = lag.max / 1e6;
  if (harnessLagMs > 500)
    w.notes.push(
      `the harness itself was starved: its event loop stalled up to ${Math.round(harnessLagMs)} ms (a busy machine); its timings are suspect`,
    );
  // For a closer look: every request's times and answer (CHAOS_KEEP=1 keeps the folder).
  writeFileSync(join(stack.dir, `requests-${label}.json`), JSON.stringify({ window: w, sent }));
  supervising = false;
  await supervise;
  const peakRssMb = Math.max(stack.primary.takePeakRssMb(), stack.second.takePeakRssMb());

  // Drain: every acknowledged entry must reach the database by itself.
  const drainEnd = Date.now() + timing.drainMs;
  let counts = { pending: -1, failed: 0, fairHeld: 0 };
  let held = 0;
  const drainStart = Date.now();
  while (Date.now() < drainEnd) {
    counts = await stack.queueCounts().catch(() => ({ pending: -1, failed: 0, fairHeld: 0 }));
    held = Math.max(held, counts.fairHeld);
    if (counts.pending === 0) break;
    await sleep(250);
  }
  if (held > 0)
    w.notes.push(
      `${held} job(s) held by fair dispatch (parked, or claimed and not yet in BullMQ) during the drain; drained in ${((Date.now() - drainStart) / 1000).toFixed(1)} s`,
    );
  if (counts.pending !== 0)
    failures.push(`queue not drained after ${timing.drainMs / 1000} s (${counts.pending} jobs)`);
  const ledger = await stack.withDb((db) => reconcile(db, label, sent));
  const chain = await stack.verifyChains();

  const statuses = new Map<string, number>();
  for (const s of sent) statuses.set(String(s.status), (statuses.get(String(s.status)) ?? 0) + 1);
  const during = sent.filter((s) => s.t0 >= w.start && s.t0 <= w.end);
  const worstMs = Math.max(0, ...during.map((s) => (s.status === 'timeout' ? deadlineMs : s.t1 - s.t0)));
  const recoverS = recoveredAfter(sent, w.end);
  const inDown = (s: Sent) => w.downFrom !== undefined && s.t1 >= w.downFrom - deadlineMs && s.t0 <= (w.downTo ?? 0);

  if (ledger.lost) failures.push(`${ledger.lost} acknowledged entries lost`);
  if (ledger.duplicated) failures.push(`${ledger.duplicated} entries stored twice`);
  if (ledger.answeredRefusedStored)
    failures.push(`${ledger.answeredRefusedStored} entries refused with an answer yet stored`);
  if (chain) failures.push(`chain not verified: ${chain}`);
  for (const d of deaths) failures.push(`process died: ${d}`);
  const timeouts = sent.filter((s) => s.status === 'timeout').length;
  if (timeouts) failures.push(`${timeouts} requests without an answer within ${deadlineMs} ms`);
  const errors = sent.filter((s) => s.status === 'error' && !inDown(s));
  if (errors.length)
    failures.push(
      `${errors.length} requests cut off (${[...new Set(errors.map((e) => e.error))].slice(0, 3).join(', ')})`,
    );
  const fivexx = sent.filter((s) => typeof s.status === 'number' && s.status >= 500 && s.status !== 503).length;
  if (fivexx) failures.push(`${fivexx} answers 5xx other than 503`);
  if (recoverS === undefined)
    failures.push(`no write acknowledged within ${RECOVERY_CAP_MS / 1000} s of the fault's end`);
  if (counts.failed) w.notes.push(`${counts.failed} audit-write jobs failed (in total so far)`);
  failures.push(...w.findings);
  return {
    name: scenario.name,
    ledger,
    requests: sent.length,
    skipped: load.skipped(),
    chainOk: !chain,
    recoverS,
    worstMs,
    peakRssMb,
    statuses,
    failures,
    notes: w.notes,
  };
}
