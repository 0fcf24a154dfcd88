/**
 * Redis client factories, for each topology (lib/redis-topology.ts): one server, a
 * Redis Cluster (ioredis `Cluster`) or a Sentinel-watched master (ioredis `sentinels`).
 * BullMQ needs maxRetriesPerRequest: null on worker connections.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import { urlCredentials, type RedisTopology } from '../redis-topology.js';

/** A connection to Redis, whatever the topology: BullMQ and every Bulwark module take either. */
export type RedisClient = Redis | Cluster;

/** What the factories read: REDIS_URL, and the topology (one server when absent). */
export type RedisConfig = Pick<Config, 'redisUrl'> & { redis?: RedisTopology };

// Keep retrying with a ceiling: an outage should delay work, not crash the process.
const backoff = (times: number) => Math.min(times * 200, 5000);

/**
 * How a cluster client rides out a failover (docs/redis-cluster.md): a command meeting a
 * closed connection or CLUSTERDOWN is sent again after refreshing the slot table, every
 * `retryMs`, at most `redirections` times in all (MOVED and ASK count too).
 */
function clusterClient(
  topology: Extract<RedisTopology, { mode: 'cluster' }>,
  redisUrl: string,
  node: RedisOptions,
  options: ClusterOptions & { retryMs: number },
): Cluster {
  const { db: _db, ...credentials } = urlCredentials(redisUrl);
  const { retryMs, ...rest } = options;
  return new Cluster(
    topology.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      redisOptions: { ...credentials, ...node },
      clusterRetryStrategy: backoff,
      retryDelayOnFailover: retryMs,
      retryDelayOnClusterDown: retryMs,
      retryDelayOnTryAgain: retryMs,
      // The slot table is read again at least this often, so a promotion is learned even without a MOVED.
      slotsRefreshInterval: 5000,
      slotsRefreshTimeout: 3000,
      ...rest,
    },
  );
}

function sentinelOptions(topology: Extract<RedisTopology, { mode: 'sentinel' }>, redisUrl: string): RedisOptions {
  return {
    ...urlCredentials(redisUrl),
    sentinels: topology.sentinels.map((n) => ({ host: n.host, port: n.port })),
    name: topology.masterName,
    ...(topology.sentinelPassword ? { sentinelPassword: topology.sentinelPassword } : {}),
    sentinelRetryStrategy: backoff,
    // After a failover the old master may still answer for a moment as a replica: a
    // write refused READONLY reconnects (asking the sentinels again) and is sent again.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
}

/**
 * @param autoPipelining default true. Worker connections gain from it (a tick's job
 * completions share one write); the API's connection loses by it: ioredis builds a
 * Pipeline per tick and copies every defined script (BullMQ defines dozens) into it,
 * which cost the ingest route about a quarter of its throughput when measured.
 */
export function createRedis(
  config: RedisConfig,
  name = 'bulwark',
  options: { autoPipelining?: boolean } = {},
): RedisClient {
  const common: RedisOptions = {
    maxRetriesPerRequest: null,
    connectionName: name,
    retryStrategy: backoff,
  };
  const autoPipelining = options.autoPipelining ?? true;
  const topology = config.redis ?? { mode: 'single' };
  if (topology.mode === 'cluster')
    // Jobs wait out a failover (about cluster-node-timeout, plus an election): up to
    // 60 s of retries, then BullMQ's own (a worker fetches again, a job is retried).
    return clusterClient(topology, config.redisUrl, common, {
      enableAutoPipelining: autoPipelining,
      retryMs: 500,
      maxRedirections: 120,
    });
  if (topology.mode === 'sentinel')
    return new Redis({
      ...sentinelOptions(topology, config.redisUrl),
      ...common,
      enableAutoPipelining: autoPipelining,
    });
  return new Redis(config.redisUrl, { ...common, enableAutoPipelining: autoPipelining });
}

/**
 * The HTTP API's connection: it must refuse, not wait. A worker connection queues
 * commands while Redis is away and sends them when it is back, which is right for jobs;
 * for a request it made the API hang (76 s measured), grew memory with every queued
 * command, and enqueued writes whose clients had long given up (issue 15). Here:
 * - no offline queue: a command while disconnected is refused at once, never sent later;
 * - no retry of commands cut by a disconnect, so nothing is sent after its request was answered;
 * - `commandTimeoutMs` bounds the wait for a connected Redis that does not answer.
 * The connection itself keeps reconnecting with the same backoff as the workers'.
 * With a cluster, a command meeting a failover is retried within that same bound
 * (then the request is answered 503): docs/redis-cluster.md.
 */
export function createApiRedis(
  config: RedisConfig & Pick<Config, 'apiRedisTimeoutMs'>,
  name = 'bulwark-api',
): RedisClient {
  const node: RedisOptions = {
    connectionName: name,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: config.apiRedisTimeoutMs,
    connectTimeout: config.apiRedisTimeoutMs,
    retryStrategy: backoff,
  };
  const topology = config.redis ?? { mode: 'single' };
  if (topology.mode === 'cluster') {
    const retryMs = 100;
    return clusterClient(topology, config.redisUrl, node, {
      enableOfflineQueue: false,
      enableAutoPipelining: false,
      retryMs,
      maxRedirections: Math.max(2, Math.floor(config.apiRedisTimeoutMs / retryMs)),
    });
  }
  const own: RedisOptions = {
    ...node,
    enableOfflineQueue: false,
    // See createRedis on auto-pipelining: the API's connection loses by it.
    enableAutoPipelining: false,
  };
  if (topology.mode === 'sentinel') return new Redis({ ...sentinelOptions(topology, config.redisUrl), ...own });
  return new Redis(config.redisUrl, own);
}

/** Resolves when `redis` is ready or after `ms`, whichever comes first (never rejects). */
export function untilReady(redis: RedisClient, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    redis.once('ready', done);
  });
}
