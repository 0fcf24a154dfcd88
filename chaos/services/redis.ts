/**
 * A private Redis for fault injection and tests that must break Redis: its own port,
 * its own temporary folder, AOF on (`appendfsync everysec`, as docker-compose.yml and
 * docs/going-to-production.md ask), `maxmemory-policy noeviction`. Never the machine's
 * shared Redis on 6379. `kill9()` and `restart()` keep the folder, so the AOF is replayed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, waitUntil } from './process.js';

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** The server's pid while it runs. */
  pid(): number | undefined;
  /** `redis-cli` against it, e.g. `cli('CONFIG', 'SET', 'maxmemory', '0')`. */
  cli(...args: string[]): Promise<string>;
  /** SIGKILL, no shutdown: what a crash or an OOM kill does. */
  kill9(): Promise<void>;
  /** Start again on the same port and folder (replaying the AOF); resolves once it answers PING. */
  restart(): Promise<void>;
  /** Stop it and remove its folder. */
  destroy(): Promise<void>;
}

export interface PrivateRedisOptions {
  /** Default: true. */
  appendonly?: boolean;
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly === false ? 'no' : 'yes',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--logfile',
    join(dir, 'redis.log'),
  ];
  let child: ChildProcess | undefined;
  const cli = (...a: string[]) => run('redis-cli', ['-p', String(port), ...a]).then((s) => s.trim());
  async function start(): Promise<void> {
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    c.on('error', () => undefined);
    child = c;
    await waitUntil(async () => c.exitCode === null && (await cli('PING')) === 'PONG', `redis on ${port}`, 30_000);
  }
  async function kill(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await exited;
  }
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    cli,
    kill9: kill,
    restart: start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
