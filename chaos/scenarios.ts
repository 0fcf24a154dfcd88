/**
 * The faults, each injected once under load. `inject` runs from the end of the warm-up:
 * it breaks something, holds the fault, lifts it, and says when it started and ended
 * (and what else it saw). The runner (run.ts) does the load, the accounting and the verdict.
 */
import pg from 'pg';
import { attackProbe, malformedProbes, sendProbe, type ProbeResult } from './probes.js';
import { sleep } from './services/process.js';
import type { Stack } from './stack.js';

export interface Window {
  start: number;
  end: number;
  /** While the process was down on purpose: connection errors then are expected. */
  downFrom?: number;
  downTo?: number;
  /** Facts worth a line under the table. */
  notes: string[];
  /** Failures of the scenario's own checks (probes answered wrongly, …). */
  findings: string[];
}

export interface ScenarioContext {
  stack: Stack;
  /** How long the fault is held, ms. */
  holdMs: number;
  /** The request deadline, ms. */
  deadlineMs: number;
  /** Where the load goes (the runner round-robins over it). */
  targets: string[];
}

export interface Scenario {
  name: string;
  inject(ctx: ScenarioContext): Promise<Window>;
}

/** Requests per second of the auth attack (the issue's run saw 190/s from one client). */
const ATTACK_RATE = 200;

const window = (start: number, extra: Partial<Window> = {}): Window => ({
  start,
  end: Date.now(),
  notes: [],
  findings: [],
  ...extra,
});

function summarise(results: ProbeResult[], label: string, w: Window): void {
  const bad = results.filter((r) => r.finding);
  const statuses = new Map<string, number>();
  for (const r of results) statuses.set(String(r.status), (statuses.get(String(r.status)) ?? 0) + 1);
  w.notes.push(`${label}: ${results.length} requests, answers ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}`);
  for (const r of bad.slice(0, 8)) w.findings.push(`${r.probe.name}: ${r.finding}`);
  if (bad.length > 8) w.findings.push(`… and ${bad.length - 8} more ${label} findings`);
}

async function countAction(stack: Stack, action: string): Promise<number> {
  return stack.withDb(
    async (db: pg.Client) =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log WHERE action = $1', [action])).rows[0]!
        .n,
  );
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'baseline (no fault)',
    async inject({ holdMs }) {
      const start = Date.now();
      await sleep(holdMs);
      return window(start);
    },
  },
  {
    name: 'bulwark start SIGKILL + restart',
    async inject({ stack }) {
      const start = Date.now();
      await stack.primary.kill9();
      const downFrom = Date.now();
      await stack.primary.start();
      return window(start, { downFrom, downTo: Date.now() });
    },
  },
  {
    name: 'Redis kill -9 (AOF) + restart',
    async inject({ stack, holdMs }) {
      const start = Date.now();
      await stack.redis.kill9();
      await sleep(holdMs);
      await stack.redis.restart();
      return window(start);
    },
  },
  {
    // Hung or saturated: connections stay open and Redis takes the commands, then runs
    // them all at SIGCONT. A write answered 503 must not be among those that store.
    name: 'Redis hung (SIGSTOP)',
    async inject({ stack, holdMs }) {
      const pid = stack.redis.pid();
      if (pid === undefined) throw new Error('redis is not running');
      const start = Date.now();
      process.kill(pid, 'SIGSTOP');
      try {
        await sleep(holdMs);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      return window(start);
    },
  },
  {
    name: 'Postgres stopped',
    async inject({ stack, holdMs }) {
      const start = Date.now();
      await stack.postgres.stop('fast');
      await sleep(holdMs);
      await stack.postgres.start();
      return window(start);
    },
  },
  {
    name: 'pg_terminate_backend',
    async inject({ stack, holdMs }) {
      const start = Date.now();
      let killed = 0;
      for (let t = 0; t < holdMs; t += 1000) {
        killed += await stack.postgres.terminate('bulwark');
        await sleep(1000);
      }
      return window(start, {
        notes: [`pg_terminate_backend: ${killed} connections ended, once a second for ${holdMs / 1000} s`],
      });
    },
  },
  {
    name: 'Redis maxmemory reached',
    async inject({ stack, holdMs }) {
      const used = Number(/used_memory:(\d+)/.exec(await stack.redis.cli('INFO', 'memory'))?.[1]);
      const start = Date.now();
      await stack.redis.cli('CONFIG', 'SET', 'maxmemory', String(Math.max(1 << 20, used - (256 << 10))));
      await sleep(holdMs);
      await stack.redis.cli('CONFIG', 'SET', 'maxmemory', '0');
      return window(start);
    },
  },
  {
    name: 'two processes, one tenant',
    async inject(ctx) {
      const start = Date.now();
      await ctx.stack.second.start();
      ctx.targets.push(ctx.stack.second.url);
      await sleep(ctx.holdMs);
      ctx.targets.pop();
      await sleep(ctx.deadlineMs); // every request already sent to it is answered (or timed out) before it stops
      await ctx.stack.second.stop();
      return window(start);
    },
  },
  {
    name: 'malformed inputs',
    async inject({ stack, deadlineMs, holdMs }) {
      const start = Date.now();
      const probes = malformedProbes(stack.keys[0]!);
      const results: ProbeResult[] = [];
      // Twice through (once at once, once after the hold's first half), ten at a time.
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < probes.length; i += 10)
          results.push(
            ...(await Promise.all(probes.slice(i, i + 10).map((p) => sendProbe(stack.primary.url, p, deadlineMs)))),
          );
        if (round === 0) await sleep(Math.max(0, holdMs / 2 - (Date.now() - start)));
      }
      const w = window(start);
      summarise(results, 'malformed', w);
      return w;
    },
  },
  {
    name: 'auth attack (bad keys burst)',
    async inject({ stack, deadlineMs, holdMs }) {
      const before = await countAction(stack, 'security:api-key-denied');
      const start = Date.now();
      const results: ProbeResult[] = [];
      const pending: Array<Promise<void>> = [];
      // Open loop, ATTACK_RATE requests/s from one address, however slow the answers.
      for (let i = 0; Date.now() - start < holdMs;) {
        const due = Math.floor(((Date.now() - start) * ATTACK_RATE) / 1000);
        for (; i < due; i++)
          pending.push(sendProbe(stack.primary.url, attackProbe(i), deadlineMs).then((r) => void results.push(r)));
        await sleep(10);
      }
      await Promise.all(pending);
      const w = window(start);
      summarise(results, 'auth attack', w);
      await sleep(6000); // denials are written through the queue
      const denials = (await countAction(stack, 'security:api-key-denied')) - before;
      const keyed = results.filter((r) => r.probe.name === 'unknown key' || r.probe.name === 'malformed key').length;
      w.notes.push(`auth attack: ${denials} security:api-key-denied rows for ${keyed} requests with a bad key`);
      // Defect 5: denials must be accounted for but bounded, not one row per request.
      if (denials > 100 + keyed / 10)
        w.findings.push(`denial rows grow with the attack: ${denials} rows for ${keyed} bad-key requests`);
      return w;
    },
  },
];
