/**
 * Bulwark in a separate Node process, for tests that need several workers, a SIGKILL
 * or a real SIGTERM. spawnWorker() resolves once the child says it is ready (its HTTP
 * URL known); every child still alive when the test process exits is SIGKILLed.
 */
import { generateFernetKey } from '../../lib/crypto/fernet.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES } from '../../lib/config.js';
import { REDIS_URL } from './env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = fileURLToPath(new URL('./run-worker.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  pid: number;
  /** The child's HTTP server, e.g. http://127.0.0.1:43121. */
  url: string;
  /** Every stdout line so far (JSON log lines and the ready line). */
  lines: string[];
  stderr(): string;
  kill(signal?: NodeJS.Signals): void;
  /** Settles when the process has exited and its output is read. */
  exited: Promise<WorkerExit>;
}

export interface SpawnOptions {
  /** Run the real `bulwark start` CLI instead of test/helpers/run-worker.ts. */
  cli?: boolean;
  /** More arguments of `bulwark start` (with `cli`), e.g. ['--role', 'scheduler']. */
  args?: string[];
  readyTimeoutMs?: number;
}

const alive = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of alive) c.kill('SIGKILL');
});

/** Environment for a worker child on a test database and queue prefix. */
export function workerEnv(
  databaseUrl: string,
  queuePrefix: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    WORKER_LOCK_DURATION_MS: '2000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    MASTER_KEYS: `test1:${generateFernetKey()}`,
    // The receivers of the tests listen on loopback.
    ALERT_TARGETS_ALLOW_PRIVATE: 'true',
    ...overrides,
  };
}

export async function spawnWorker(env: Record<string, string>, options: SpawnOptions = {}): Promise<WorkerProcess> {
  const args = options.cli ? [CLI, 'start', ...(options.args ?? [])] : ['--import', 'tsx', ENTRY];
  // Bulwark variables of the test's own environment must not leak into the child.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CONFIG_VARIABLES.includes(k)));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...inherited, NODE_NO_WARNINGS: '1', FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  alive.add(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once('close', (code, signal) => {
      alive.delete(child);
      resolve({ code, signal });
    });
  });
  const describe = () =>
    `pid ${child.pid}; stderr:\n${stderr.slice(-3000)}\nstdout tail:\n${lines.slice(-20).join('\n')}`;
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker not ready within ${timeoutMs} ms (${describe()})`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (!line.startsWith('{')) return;
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string };
        if ((msg.event === 'test_worker_ready' || msg.event === 'bulwark_started') && msg.url) {
          clearTimeout(timer);
          resolve(msg.url);
        }
      } catch {
        // not JSON: kept in lines for diagnostics
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`worker exited before it was ready (code ${code}, signal ${signal}; ${describe()})`));
    });
  });
  return {
    pid: child.pid!,
    url,
    lines,
    stderr: () => stderr,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    exited,
  };
}

/** SIGKILL a worker (if still running) and wait for it to be gone. */
export async function killWorker(w: WorkerProcess | undefined): Promise<void> {
  if (!w) return;
  w.kill('SIGKILL');
  await w.exited;
}

/** Sum of every sample of a metric (all label sets) on a /metrics page. */
export async function scrapeMetric(baseUrl: string, name: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`).catch((err: unknown) => {
    // undici says only "fetch failed": the cause tells a refused connection (the process
    // is gone) from one closed under the request.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`GET ${baseUrl}/metrics failed: ${cause?.code ?? ''} ${cause?.message ?? String(err)}`);
  });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
