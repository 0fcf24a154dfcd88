/**
 * Running `bulwark` from a test: in-process through main() (the same code as the bin),
 * its output caught line by line, or as the installed bin in a child process.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main.js';
import type { CliIO } from '../../cli/output.js';
import { withTimeout } from './env.js';

export interface CliResult {
  code: number;
  /** stdout lines joined with \n ('' when none). */
  out: string;
  /** stdout as its lines ([] when none). */
  outLines: string[];
  /** stderr lines joined with \n. */
  err: string;
  /** The progress bar's raw text ('' unless isTTY). */
  progress: string;
}

export interface CliOptions {
  /** Whether stderr counts as a terminal, so the progress bar is drawn. Default: false. */
  isTTY?: boolean;
  /** Called with each piece of progress-bar text as it is drawn. */
  onProgress?: (text: string) => void;
  /** What the command reads from stdin. Default: main()'s (this process's stdin). */
  stdin?: NodeJS.ReadableStream;
}

/** Run the CLI in-process with exactly `env` (nothing of process.env). */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, options: CliOptions = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  let progress = '';
  const io: CliIO = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    isTTY: options.isTTY ?? false,
    progress: (text) => {
      progress += text;
      options.onProgress?.(text);
    },
  };
  const code = await main(args, io, env, options.stdin);
  return { code, out: out.join('\n'), outLines: out, err: err.join('\n'), progress };
}

export type CliRunner = (args: string[], options?: CliOptions & { env?: NodeJS.ProcessEnv }) => Promise<CliResult>;

/**
 * A file's runner: `env` is read at each run (so it can name the database test.before
 * made), and a run's `env` option is laid over it.
 */
export function makeCliRunner(env: () => NodeJS.ProcessEnv, defaults: CliOptions = {}): CliRunner {
  return (args, options = {}) => runCli(args, { ...env(), ...options.env }, { ...defaults, ...options });
}

/** `tenant create --name NAME …` through `run`; the new tenant's id, the first line of stdout. */
export async function createCliTenant(
  run: (args: string[]) => Promise<CliResult>,
  name: string,
  ...flags: string[]
): Promise<string> {
  const r = await run(['tenant', 'create', '--name', name, ...flags]);
  if (r.code !== 0) throw new Error(`tenant create --name ${name} exited ${r.code}: ${r.err}`);
  return r.outLines[0]!;
}

/** Run the installed bin (`node bin/bulwark.js …`) with `env` over this process's environment, within 60 s. */
export function runBin(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['bin/bulwark.js', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

/**
 * Run `bulwark start` as the installed bin with exactly `env` (and `cwd`, default this
 * process's), for a start that must fail: resolves with its exit code and everything it
 * printed. A hang guard, not a timing claim: a start that got past its check, or left a
 * connection open, would never exit, and is killed after `ms`.
 */
export async function startUntilExit(
  env: NodeJS.ProcessEnv,
  options: { cwd?: string; ms?: number } = {},
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [BIN, 'start'], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await withTimeout(
    new Promise<number | null>((r) => child.on('exit', r)),
    options.ms ?? 60_000,
    'bulwark start to exit',
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { code, output };
}
