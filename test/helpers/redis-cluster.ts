/**
 * A Redis Cluster of the test's own: three masters with one replica each, six
 * `redis-server --cluster-enabled yes` processes on free ports in a temp dir, joined by
 * `redis-cli --cluster create … --cluster-replicas 1`. Started once per test file (a few
 * seconds), torn down by stop(). Never touches the shared Redis on 6379.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from './env.js';
import { freePort } from './own-redis.js';

const run = promisify(execFile);

/** A CLUSTER SLOTS row, reduced to its first slot, last slot and its master's port. */
type SlotRange = [from: number, to: number, masterPort: number];

export interface ClusterNode {
  port: number;
  /** `127.0.0.1:<port>` */
  address: string;
}

export interface RedisClusterHandle {
  nodes: ClusterNode[];
  /** REDIS_CLUSTER_NODES for the configuration: every node, comma-separated. */
  nodesEnv: string;
  /** The port of the master serving `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** The port of a replica of the master on `port`. */
  replicaOf(port: number): Promise<number>;
  /** CLUSTER FAILOVER on the replica at `replicaPort` (graceful: it catches up first); resolves once it is master. */
  failover(replicaPort: number): Promise<void>;
  /** SIGKILL the node on `port` (no shutdown, nothing saved). */
  kill(port: number): Promise<void>;
  /** Resolves when every live node reports cluster_state:ok and no slot is served by `port`. */
  promotedFrom(port: number): Promise<void>;
  /** A short-lived connection to one node, closed after `fn`. */
  admin<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** cluster-node-timeout: how long a silent master takes to be failed over. Default 2000 ms. */
  nodeTimeoutMs?: number;
}

export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisClusterHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-cluster-'));
  const children = new Map<number, ChildProcess>();
  const ports: number[] = [];
  // Six distinct free ports; each node also listens on port + 10000 (its bus), checked too.
  while (ports.length < 6) {
    const p = await freePort();
    if (p > 55_000 || ports.includes(p)) continue;
    if (!(await portFree(p + 10_000))) continue;
    ports.push(p);
  }
  const nodes = ports.map((port) => ({ port, address: `127.0.0.1:${port}` }));

  async function admin<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis(port, '127.0.0.1', {
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      lazyConnect: true,
      connectTimeout: 2000,
      commandTimeout: 5000,
    });
    // A node that is down (or being started) fails connect(); that is the answer, not an unhandled event.
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  async function startNode(port: number): Promise<void> {
    const nodeDir = join(dir, String(port));
    await mkdir(nodeDir, { recursive: true });
    const args = [
      ['--port', String(port)],
      ['--bind', '127.0.0.1'],
      ['--dir', nodeDir],
      ['--save', ''],
      ['--appendonly', 'no'],
      ['--logfile', join(nodeDir, 'redis.log')],
      ['--cluster-enabled', 'yes'],
      ['--cluster-config-file', 'nodes.conf'],
      ['--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000)],
      // A replica whose master died always stands for election, however long it was cut off.
      ['--cluster-replica-validity-factor', '0'],
      ['--repl-diskless-sync', 'yes'],
      ['--repl-diskless-sync-delay', '0'],
    ].flat();
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    children.set(port, child);
    process.once('exit', () => child.kill('SIGKILL'));
    await waitFor(
      () => admin(port, async (r) => (await r.ping()) === 'PONG').catch(() => false),
      `cluster node on port ${port}`,
      15_000,
      50,
    );
  }

  async function kill(port: number): Promise<void> {
    const c = children.get(port);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await gone;
  }

  const alive = () => nodes.filter((n) => children.get(n.port)?.exitCode === null && !children.get(n.port)?.signalCode);

  async function clusterOk(): Promise<boolean> {
    for (const n of alive()) {
      const info = await admin(n.port, (r) => r.cluster('INFO')).catch(() => '');
      if (!/cluster_state:ok/.test(String(info))) return false;
    }
    return true;
  }

  /**
   * Every master's replica is attached and in sync, and every node knows every other
   * one in its role (a master ignores a manual failover asked by a replica it does not
   * know yet: CLUSTER FAILOVER right after the create timed out that way).
   */
  async function replicasOnline(): Promise<boolean> {
    for (const n of alive()) {
      const view = String(await admin(n.port, (r) => r.cluster('NODES')).catch(() => ''))
        .split('\n')
        .filter(Boolean);
      if (view.length !== alive().length || view.some((l) => /handshake|noaddr|fail/.test(l))) return false;
      if (view.filter((l) => / (myself,)?slave /.test(l)).length !== alive().length / 2) return false;
    }
    for (const n of alive()) {
      const info = String(await admin(n.port, (r) => r.info('replication')).catch(() => ''));
      if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
      if (/role:master/.test(info) && /connected_slaves:0/.test(info)) return false;
    }
    return true;
  }

  async function stop(): Promise<void> {
    if (process.env.KEEP_CLUSTER_DIR)
      return (console.log('cluster dir', dir), void (await Promise.all(ports.map(kill))));
    await Promise.all(ports.map(kill));
    await rm(dir, { recursive: true, force: true });
  }

  try {
    await Promise.all(ports.map(startNode));
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: 30_000 },
    );
    await waitFor(async () => (await clusterOk()) && (await replicasOnline()), 'the cluster to be ok', 30_000, 100);
  } catch (err) {
    await stop();
    throw err;
  }

  async function slotTable(): Promise<SlotRange[]> {
    const rows = await admin(alive()[0]!.port, (r) => r.cluster('SLOTS'));
    return rows.map(([from, to, master]) => [from, to, Number(master?.[1])]);
  }

  async function masterOf(key: string): Promise<number> {
    const slot = Number(await admin(alive()[0]!.port, (r) => r.cluster('KEYSLOT', key)));
    const range = (await slotTable()).find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return range[2];
  }

  async function replicaOf(port: number): Promise<number> {
    const info = String(await admin(port, (r) => r.info('replication')));
    const m = /slave0:ip=[^,]+,port=(\d+)/.exec(info);
    if (!m) throw new Error(`the master on ${port} has no replica:\n${info}`);
    return Number(m[1]);
  }

  return {
    nodes,
    nodesEnv: nodes.map((n) => n.address).join(','),
    masterOf,
    replicaOf,
    admin,
    kill,
    async failover(replicaPort) {
      const isMaster = async () => /role:master/.test(String(await admin(replicaPort, (r) => r.info('replication'))));
      // A manual failover Redis gives up (it times out after 5 s) is asked again.
      let askedAt = 0;
      await waitFor(
        async () => {
          if (await isMaster()) return true;
          if (Date.now() - askedAt > 6000) {
            askedAt = Date.now();
            await admin(replicaPort, (r) => r.cluster('FAILOVER'));
          }
          return false;
        },
        `the replica on ${replicaPort} to become master`,
        30_000,
        50,
      );
      await waitFor(clusterOk, 'the cluster to be ok after the failover', 20_000, 50);
    },
    async promotedFrom(port) {
      await waitFor(
        async () => {
          if (!(await clusterOk())) return false;
          return (await slotTable()).every(([, , p]) => p !== port);
        },
        `a replica to take over from the master on ${port}`,
        30_000,
        100,
      );
    },
    stop,
  };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(
      ({ default: net }) => {
        const server = net.createServer();
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
      },
      () => resolve(false),
    );
  });
}
