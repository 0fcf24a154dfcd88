/**
 * A Sentinel-watched Redis of the test's own: a master, one replica and three sentinels
 * (`redis-server --sentinel`, quorum 2) on free ports in a temp dir, monitoring the
 * master as `mymaster`. Torn down by stop(). Never touches the shared Redis on 6379.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './env.js';
import { freePort } from './own-redis.js';

export const SENTINEL_MASTER = 'mymaster';

export interface RedisSentinelHandle {
  masterPort: number;
  replicaPort: number;
  /** REDIS_SENTINELS for the configuration. */
  sentinelsEnv: string;
  /** The port the sentinels give for the master now. */
  currentMaster(): Promise<number>;
  /** SIGKILL the server on `port`. */
  kill(port: number): Promise<void>;
  /** A short-lived connection to one server, closed after `fn`. */
  admin<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(): Promise<RedisSentinelHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-sentinel-'));
  const children = new Map<number, ChildProcess>();
  const ports: number[] = [];
  while (ports.length < 5) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const [masterPort, replicaPort, ...sentinelPorts] = ports as [number, number, number, number, number];

  async function admin<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis(port, '127.0.0.1', {
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      lazyConnect: true,
      connectTimeout: 2000,
      commandTimeout: 5000,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  async function launch(port: number, args: string[]): Promise<void> {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    children.set(port, child);
    process.once('exit', () => child.kill('SIGKILL'));
    await waitFor(
      () => admin(port, async (r) => (await r.ping()) === 'PONG').catch(() => false),
      `redis on port ${port}`,
      15_000,
      50,
    );
  }

  async function server(port: number, extra: string[] = []): Promise<void> {
    const nodeDir = join(dir, String(port));
    await mkdir(nodeDir, { recursive: true });
    await launch(port, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      nodeDir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      join(nodeDir, 'redis.log'),
      ...extra,
    ]);
  }

  async function sentinel(port: number): Promise<void> {
    // A sentinel rewrites its configuration file as it learns: it must be its own and writable.
    const file = join(dir, `sentinel-${port}.conf`);
    await writeFile(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `logfile ${join(dir, `sentinel-${port}.log`)}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 10000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'),
    );
    await launch(port, [file, '--sentinel']);
  }

  async function kill(port: number): Promise<void> {
    const c = children.get(port);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await gone;
  }

  async function stop(): Promise<void> {
    await Promise.all(ports.map(kill));
    await rm(dir, { recursive: true, force: true });
  }

  async function currentMaster(): Promise<number> {
    for (const port of sentinelPorts) {
      const answer = await admin(port, (r) => r.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)).catch(
        () => null,
      );
      if (Array.isArray(answer)) return Number(answer[1]);
    }
    throw new Error('no sentinel answered');
  }

  try {
    await server(masterPort);
    await server(replicaPort, ['--replicaof', '127.0.0.1', String(masterPort)]);
    await waitFor(
      async () => /master_link_status:up/.test(String(await admin(replicaPort, (r) => r.info('replication')))),
      'the replica to sync',
      15_000,
      50,
    );
    await Promise.all(sentinelPorts.map(sentinel));
    // Every sentinel knows the replica and the other sentinels before anything is failed over.
    await waitFor(
      async () => {
        for (const port of sentinelPorts) {
          const info = String(await admin(port, (r) => r.info('sentinel')));
          if (!new RegExp(`name=${SENTINEL_MASTER},status=ok,.*slaves=1,sentinels=3`).test(info)) return false;
        }
        return true;
      },
      'the sentinels to know the replica and each other',
      30_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    masterPort,
    replicaPort,
    sentinelsEnv: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    currentMaster,
    kill,
    admin,
    stop,
  };
}
