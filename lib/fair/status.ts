/**
 * What fair dispatch holds now, per fair queue: the gauges' source (lib/fair/metrics.ts)
 * and `bulwark fair status`. Read-only; one script call per fair queue among `queues`
 * (the worker registry's).
 */
import type { RedisClient } from '../clients/redis.js';
import type { QueueDefinition } from '../contracts/job.js';
import { fairKindsOf } from './kinds.js';
import { fairScript, type FairStats } from './script.js';

export async function readFairStats(
  redis: RedisClient,
  queuePrefix: string,
  queues: Iterable<QueueDefinition>,
): Promise<Array<{ queue: string; unit: 'entries' | 'jobs'; stats: FairStats }>> {
  return Promise.all(
    fairKindsOf(queues).map(async (kind) => ({
      queue: kind.queue,
      unit: kind.unit,
      stats: await fairScript(redis, queuePrefix, kind).stats(),
    })),
  );
}
