/**
 * What fair dispatch holds now, per fair queue: the gauges' source (lib/fair/metrics.ts)
 * and `bulwark fair status`. Read-only; one script call per queue.
 */
import type { RedisClient } from '../clients/redis.js';
import { FAIR_KINDS } from './kinds.js';
import { fairScript, type FairStats } from './script.js';

export async function readFairStats(
  redis: RedisClient,
  queuePrefix: string,
): Promise<Array<{ queue: string; unit: 'entries' | 'jobs'; stats: FairStats }>> {
  return Promise.all(
    FAIR_KINDS.map(async (kind) => ({
      queue: kind.queue,
      unit: kind.unit,
      stats: await fairScript(redis, queuePrefix, kind).stats(),
    })),
  );
}
