/**
 * Expected outages as answers: a dependency that is down, unreachable, too slow or
 * out of memory is a 503 with Retry-After, never a 500 (api.md: 500 means a bug).
 *
 * What a 503 promises (docs/api.md "Outages"): a write answered 503 was not enqueued.
 * The API's Redis connection has no offline queue and retries nothing (createApiRedis in
 * lib/clients/redis.ts), so a command refused while Redis is unreachable was never sent;
 * and a write's storing script carries a deadline (lib/fair/deadline.ts), so one that
 * Redis runs after the API gave up on it stores nothing.
 */
import { codesOf, isTransientDbError } from '../lib/db/errors.js';
import { ApiError } from './api-error.js';

export type Dependency = 'redis' | 'postgres';
export type OutageReason = 'unreachable' | 'timeout' | 'out_of_memory';

export interface Outage {
  dependency: Dependency;
  reason: OutageReason;
}

/** Seconds a client is asked to wait: about how long a restart or failover takes to be noticed. */
export const RETRY_AFTER_SECONDS = 5;

/** ioredis' own words for a connection that is not there (no offline queue, closed, given up). */
const REDIS_UNREACHABLE =
  /enableOfflineQueue options is false|Connection is closed|Reached the max retries per request limit|Stream isn't writeable|connect ECONNREFUSED|ECONNRESET|EPIPE/;

/** ioredis Cluster's words for a cluster it cannot send to at all. */
const CLUSTER_UNREACHABLE = /^(Failed to refresh slots cache|Cluster isn't ready|None of startup nodes is available)/;

function redisOutage(err: Error): Outage | undefined {
  // A Redis error reply starts with its code: OOM when maxmemory is reached (noeviction),
  // LOADING while a restarted server reads its AOF, READONLY/MASTERDOWN during a failover.
  if (err.name === 'ReplyError') {
    if (err.message.startsWith('OOM ')) return { dependency: 'redis', reason: 'out_of_memory' };
    if (/^(LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN) /.test(err.message))
      return { dependency: 'redis', reason: 'unreachable' };
    return undefined;
  }
  if (err.name === 'MaxRetriesPerRequestError') return { dependency: 'redis', reason: 'unreachable' };
  if (err.message === 'Command timed out' || err.name === 'RedisDeadlineError')
    return { dependency: 'redis', reason: 'timeout' };
  if (REDIS_UNREACHABLE.test(err.message) && !/terminat/i.test(err.message))
    return { dependency: 'redis', reason: 'unreachable' };
  // A Redis Cluster's client during a failover: a command retried until its bound, then
  // given up with the last error it met (CLUSTERDOWN, a closed connection), or no slot
  // table to send it by (docs/redis-cluster.md).
  const cluster = /^Too many Cluster redirections\. Last error: (?:ReplyError: )?(.*)$/s.exec(err.message);
  if (cluster) {
    const last = Object.assign(new Error(cluster[1]), { name: /^[A-Z]+ /.test(cluster[1]!) ? 'ReplyError' : 'Error' });
    return redisOutage(last) ?? { dependency: 'redis', reason: 'unreachable' };
  }
  if (CLUSTER_UNREACHABLE.test(err.message) || err.name === 'ClusterAllFailedError')
    return { dependency: 'redis', reason: 'unreachable' };
  return undefined;
}

/** The outage `err` reports, if it is one; undefined for anything else (a bug: 500). */
export function outageOf(err: unknown): Outage | undefined {
  if (!(err instanceof Error)) return undefined;
  const redis = redisOutage(err);
  if (redis) return redis;
  if (isTransientDbError(err))
    return { dependency: 'postgres', reason: codesOf(err).includes('57014') ? 'timeout' : 'unreachable' };
  return undefined;
}

const MESSAGES: Record<Dependency, Record<OutageReason, string>> = {
  redis: {
    unreachable: 'the job store (Redis) cannot be reached; nothing was enqueued; retry later',
    timeout: 'the job store (Redis) did not answer in time; nothing was enqueued; retry later',
    out_of_memory: 'the job store (Redis) is out of memory; nothing was enqueued; retry later',
  },
  postgres: {
    unreachable: 'the database cannot be reached; retry later',
    timeout: 'the database did not answer in time; retry later',
    out_of_memory: 'the database is out of resources; retry later',
  },
};

export function unavailableError(outage: Outage): ApiError {
  return new ApiError(503, 'unavailable', MESSAGES[outage.dependency][outage.reason], undefined, {
    'retry-after': String(RETRY_AFTER_SECONDS),
  });
}
