/**
 * npm run chaos — fault injection against a private Redis and Postgres (see
 * docs/reliability.md). Prints one table and exits 1 if any scenario failed.
 *
 * CHAOS_SHORT=1 (or `--short`): each fault once with a few seconds of load, for CI.
 * CHAOS_ONLY=<substring>: only the scenarios whose name contains it.
 * CHAOS_RATE (requests/s; default 100, short 50), CHAOS_HOLD_MS (how long a fault lasts), CHAOS_SLACK_MS (allowed on
 * top of the 2 s bound before a request counts as unanswered; default 1000): override the mode's.
 * CHAOS_KEEP=1: keep the temporary folder (Bulwark's, Redis's and Postgres's logs).
 */
import { randomBytes } from 'node:crypto';
import { ensureBuilt } from '../scripts/build.mjs';
import { details, table } from './report.js';
import { runScenario, type Outcome, type Timing } from './run.js';
import { SCENARIOS } from './scenarios.js';
import { startStack } from './stack.js';

const short = process.env.CHAOS_SHORT === '1' || process.argv.includes('--short');
const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

export const TIMING: Timing = short
  ? {
      rate: num('CHAOS_RATE', 50),
      warmMs: 2000,
      holdMs: num('CHAOS_HOLD_MS', 3000),
      afterMs: 3000,
      boundMs: 2000,
      slackMs: num('CHAOS_SLACK_MS', 1000),
      drainMs: 90_000,
    }
  : {
      rate: num('CHAOS_RATE', 100),
      warmMs: 5000,
      holdMs: num('CHAOS_HOLD_MS', 15_000),
      afterMs: 10_000,
      boundMs: 2000,
      slackMs: num('CHAOS_SLACK_MS', 1000),
      drainMs: 120_000,
    };

export async function runChaos(
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<{ outcomes: Outcome[]; table: string }> {
  await ensureBuilt();
  const only = process.env.CHAOS_ONLY;
  const scenarios = SCENARIOS.filter((s) => !only || s.name.includes(only));
  const runId = `c${randomBytes(3).toString('hex')}`;
  // Production defaults, but for the short run's lock: a killed worker's jobs come back
  // after WORKER_LOCK_DURATION_MS (30 s by default), 10 s there to keep the run short.
  const stack = await startStack(short ? { lockDurationMs: 10_000 } : {});
  log(
    `chaos ${short ? 'short' : 'full'} run ${runId}: ${TIMING.rate} requests/s, faults held ${TIMING.holdMs / 1000} s, bound ${TIMING.boundMs} ms + ${TIMING.slackMs} ms slack; folder ${stack.dir}`,
  );
  const outcomes: Outcome[] = [];
  // Ctrl-C or a CI timeout: stop what was started (Postgres runs daemonised and would outlive us).
  const interrupted = () => void stack.destroy().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    for (const [i, scenario] of scenarios.entries()) {
      log(`… ${scenario.name}`);
      const o = await runScenario(stack, scenario, runId, i, TIMING);
      outcomes.push(o);
      log(`  ${o.failures.length ? `FAIL: ${o.failures.join('; ')}` : 'pass'}`);
    }
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await stack.destroy();
  }
  return { outcomes, table: table(outcomes) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { outcomes, table: t } = await runChaos();
  process.stdout.write(`\n${t}\n\n${details(outcomes)}\n`);
  const failed = outcomes.filter((o) => o.failures.length).length;
  process.stdout.write(`\n${outcomes.length - failed} scenarios passed, ${failed} failed\n`);
  process.exit(failed ? 1 : 0);
}
