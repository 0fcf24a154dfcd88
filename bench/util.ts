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
export async function until(
  check: () => Promise<boolean>,
  ms: number,
  describe: () => Promise<string>,
  every = 10,
): Promise<number> {
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

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat (100 Hz ticks). */
export function procCpuMs(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

export interface ProcessSample {
  /** Largest VmRSS seen, MB. */
  maxMb: number;
  /** VmHWM (peak RSS by the kernel's count) at the end, MB. */
  hwmMb: number;
  /** CPU the process used while sampled, ms. */
  cpuMs: number;
  /** Share of all cores busy meanwhile (every process on the machine), 0..1. */
  machineBusy: number;
}

/** Samples a process's resident set every `everyMs` until stopped; also its CPU time and the machine's. */
export function sampleProcess(pid: number, everyMs = 100): { stop(): ProcessSample } {
  let max = 0;
  const cpu0 = procCpuMs(pid) ?? 0;
  const machine0 = machineJiffies();
  const take = () => {
    const kb = procStatusKb(pid, 'VmRSS');
    if (kb !== undefined) max = Math.max(max, kb);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      const machine1 = machineJiffies();
      return {
        maxMb: max / 1024,
        hwmMb: (procStatusKb(pid, 'VmHWM') ?? 0) / 1024,
        cpuMs: (procCpuMs(pid) ?? cpu0) - cpu0,
        machineBusy: (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total),
      };
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

/**
 * Profile this process's CPU between start() and the returned stop(), written as a
 * .cpuprofile into `dir` (for a measured phase only, not the set-up around it).
 * Nothing happens when `dir` is undefined.
 */
export async function profileWindow(dir: string | undefined, label: string): Promise<() => Promise<void>> {
  if (!dir) return async () => {};
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${label}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  };
}
