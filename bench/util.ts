/** Small helpers shared by the audit benchmark: pools, timing, RSS sampling, output. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A whole number from the environment, or the default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return n;
}

export function randomPrefix(label: string): string {
  return `bench-${label}-${randomBytes(4).toString('hex')}`;
}

/** Run fn(0..count-1) with at most `limit` calls in flight; rejects on the first failure. */
export async function pool(count: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  async function lane(): Promise<void> {
    while (next < count) {
      const i = next++;
      await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

/** Poll `check` every `every` ms until it is true; throw after `ms` with `describe()`'s text. */
export async function until(check: () => Promise<boolean>, ms: number, describe: () => Promise<string>, every = 10): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${await describe()}`);
    await sleep(every);
  }
}

/** One field (in kB) of /proc/<pid>/status, e.g. VmRSS or VmHWM; undefined once the process is gone. */
export function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's resident set every `everyMs` until stopped; reports the largest in MB. */
export function sampleRss(pid: number, everyMs = 100): { stop(): { maxMb: number; hwmMb: number; samples: number } } {
  let max = 0;
  let samples = 0;
  const take = () => {
    const kb = procStatusKb(pid, 'VmRSS');
    if (kb !== undefined) {
      samples++;
      max = Math.max(max, kb);
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      const hwm = procStatusKb(pid, 'VmHWM') ?? 0;
      return { maxMb: max / 1024, hwmMb: hwm / 1024, samples };
    },
  };
}

export const rate = (count: number, ms: number) => (count * 1000) / Math.max(1, ms);

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(8);
}

export function log(message: string): void {
  process.stdout.write(`${message}\n`);
}
