/**
 * `bulwark start` as an operator runs it (`node bin/bulwark.js start`, the compiled
 * build), in a child process with its environment pointing at the private services.
 * Knows whether it died without being told to, and samples its resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, sleep } from './services/process.js';
import { procStatusKb } from '../bench/util.js';

const BIN = fileURLToPath(new URL('../bin/bulwark.js', import.meta.url));

export interface BulwarkProcess {
  readonly url: string;
  readonly name: string;
  pid(): number | undefined;
  /** Exits nobody asked for since the last call (a crash), each with its code or signal. */
  takeDeaths(): string[];
  /** Start (again); resolves once `/readyz` answers 200. */
  start(): Promise<void>;
  /** SIGKILL: no drain, no shutdown. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit (graceful shutdown). */
  stop(): Promise<void>;
  /** Largest VmRSS (MB) sampled since the last call. */
  takePeakRssMb(): number;
}

/** `bulwark <args>` once, with `env`, in `cwd` (no `.env` there). */
export function bulwarkCommand(args: string[], env: Record<string, string>, cwd: string): Promise<string> {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd, timeoutMs: 180_000 });
}

export function createBulwarkProcess(options: {
  name: string;
  port: number;
  env: Record<string, string>;
  cwd: string;
  logFile: string;
}): BulwarkProcess {
  const url = `http://127.0.0.1:${options.port}`;
  const log: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  let child: ChildProcess | undefined;
  let expectingExit = false;
  let deaths: string[] = [];
  let peakKb = 0;
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const sampler = setInterval(() => {
    const pid = alive() ? child!.pid : undefined;
    if (pid) peakKb = Math.max(peakKb, procStatusKb(pid, 'VmRSS') ?? 0);
  }, 100);
  sampler.unref();

  async function ready(c: ChildProcess): Promise<boolean> {
    if (c.exitCode !== null || c.signalCode !== null)
      throw new Error(`${options.name} exited while starting (see ${options.logFile})`);
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status === 200;
  }

  async function waitExit(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    if (!c || !alive()) return;
    expectingExit = true;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill(signal);
    await exited;
  }

  return {
    url,
    name: options.name,
    pid: () => (alive() ? child!.pid : undefined),
    takeDeaths() {
      const d = deaths;
      deaths = [];
      return d;
    },
    async start() {
      expectingExit = false;
      const c = spawn(process.execPath, [BIN, 'start'], {
        cwd: options.cwd,
        env: { ...process.env, ...options.env, PORT: String(options.port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      c.stdout!.pipe(log, { end: false });
      c.stderr!.pipe(log, { end: false });
      c.on('exit', (code, signal) => {
        if (!expectingExit) deaths.push(`${options.name} exited (${signal ?? `code ${code}`})`);
      });
      // A `ready` that throws (the child died) is retried by waitUntil until the deadline: check it ourselves.
      const deadline = Date.now() + 90_000;
      for (;;) {
        if (c.exitCode !== null || c.signalCode !== null)
          throw new Error(`${options.name} exited while starting (see ${options.logFile})`);
        if (await ready(c).catch(() => false)) return;
        if (Date.now() > deadline) throw new Error(`${options.name} not ready after 90 s (see ${options.logFile})`);
        await sleep(100);
      }
    },
    kill9: () => waitExit('SIGKILL'),
    stop: () => waitExit('SIGTERM'),
    takePeakRssMb() {
      const mb = peakKb / 1024;
      peakKb = 0;
      return mb;
    },
  };
}
