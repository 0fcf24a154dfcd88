/**
 * A Redis server of the test's own on a free port, for faults the shared one must never
 * see: kill -9, stop and start again, maxmemory. Never 6379. stop() ends it for good.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './env.js';

export interface OwnRedis {
  port: number;
  url: string;
  /** SIGKILL the server (no shutdown, nothing saved) and wait until it is gone. */
  kill(): Promise<void>;
  /** Start it again on the same port (after kill). */
  start(): Promise<void>;
  /**
   * SIGSTOP the server: connections stay open and commands are accepted by the kernel,
   * but nothing answers (a hung or saturated server) until resume() (SIGCONT).
   */
  pause(): void;
  resume(): void;
  /** A short-lived admin connection (CONFIG SET, INFO …), closed after `fn`. */
  admin<T>(fn: (redis: Redis) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startOwnRedis(extraArgs: string[] = []): Promise<OwnRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  async function admin<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
    try {
      await redis.connect();
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  async function start(): Promise<void> {
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
      { stdio: 'ignore' },
    );
    child = c;
    process.once('exit', () => c.kill('SIGKILL'));
    await waitFor(
      () => admin(async (r) => (await r.ping()) === 'PONG').catch(() => false),
      `redis-server on port ${port}`,
      15_000,
      50,
    );
  }

  async function kill(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || (c.signalCode !== null && c.signalCode !== 'SIGSTOP')) return;
    const gone = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await gone;
  }

  await start();
  return {
    port,
    url,
    kill,
    start,
    admin,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
