/**
 * The queue handles of a process that runs no workers (roles `api` and `scheduler`):
 * one BullMQ Queue per registered queue, for Bull Board, the queue gauges and the
 * scheduler, shaped as app/workers.ts's ProcessWorkers with no workers and no hooks. A
 * process that builds no Worker loads no processor's dependencies and opens none of
 * their blocking Redis connections.
 */
import { Queue } from 'bullmq';
import type { RedisClient } from '../../lib/clients/redis.js';
import type { AppContext } from '../../lib/context.js';
import type { QueueDefinition } from '../../lib/contracts/job.js';
import type { Registration } from '../../workers/registration.js';
import { queuesOf, type ProcessWorkers } from '../workers.js';

export function createQueueHandles(ctx: AppContext, registry: readonly Registration[]): ProcessWorkers {
  const handles = new Map<QueueDefinition, Queue>();
  for (const def of queuesOf(registry)) {
    const q = new Queue(def.name, { connection: ctx.redis, prefix: ctx.config.queuePrefix });
    q.on('error', (err) => ctx.logger.warn({ event: 'queue_error', queue: def.name, err }, 'queue connection error'));
    handles.set(def, q);
  }
  return {
    workers: [],
    queues: [...handles.values()],
    queue: (def) => {
      const q = handles.get(def);
      if (!q) throw new Error(`queue ${def.name} has no registered job`);
      return q;
    },
    drain: async () => undefined,
    abort: () => undefined,
  };
}

/**
 * Bull Board's handles of `queues`, on the API's Redis connection (createApiRedis): with
 * Redis away a dashboard request fails at once or within API_REDIS_TIMEOUT_MS and is
 * answered 503, where the process's own connection would queue its commands and hang it.
 */
export function boardQueuesOn(
  redis: RedisClient,
  queues: readonly Queue[],
  prefix: string,
  logger: AppContext['logger'],
): Queue[] {
  return queues.map((q) => {
    const board = new Queue(q.name, { connection: redis, prefix });
    board.on('error', (err) => logger.debug({ event: 'queue_error', queue: q.name, err }, 'Bull Board queue error'));
    return board;
  });
}
