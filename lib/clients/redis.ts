/** Redis client factory. BullMQ needs maxRetriesPerRequest: null on worker connections. */
import { Redis } from 'ioredis';
import type { Config } from '../config.js';

/**
 * @param autoPipelining default true. Worker connections gain from it (a tick's job
 * completions share one write); the API's connection loses by it: ioredis builds a
 * Pipeline per tick and copies every defined script (BullMQ defines dozens) into it,
 * which cost the ingest route about a quarter of its throughput when measured.
 */
export function createRedis(config: Pick<Config, 'redisUrl'>, name = 'bulwark', options: { autoPipelining?: boolean } = {}): Redis {
  return new Redis(config.redisUrl, {
    maxRetriesPerRequest: null,
    connectionName: name,
    enableAutoPipelining: options.autoPipelining ?? true,
    // Keep retrying with a ceiling: an outage should delay work, not crash the process.
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
}
