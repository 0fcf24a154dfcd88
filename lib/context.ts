/**
 * The AppContext: everything a worker, the scheduler or the HTTP server needs, built
 * once by app/main.ts (the only composition root) and passed down. Nothing in the
 * project builds a client anywhere else.
 */
import type { RedisClient } from './clients/redis.js';
import type pg from 'pg';
import type { PrismaClient } from './clients/prisma.js';
import type { Config } from './config.js';
import type { Storage } from './clients/storage.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Clock } from './time.js';

export interface AppContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Shared non-blocking connection for queues; workers duplicate it for blocking calls. */
  readonly redis: RedisClient;
  readonly prisma: PrismaClient;
  /** The pool Prisma runs on; the audit group commit uses it directly. */
  readonly pg: pg.Pool;
  /**
   * The server process ids of the pool's open sessions (kept as the pool connects and
   * drops them): a shutdown past its deadline cancels exactly its own statements.
   */
  readonly pgBackendPids: () => number[];
  /** The pool's application_name, this process's own (behind PgBouncer, how its statements are found). */
  readonly pgApplicationName: string;
  readonly clock: Clock;
  /** The object store (lib/clients/storage.ts); nothing connects until a call is made. */
  readonly storage: Storage;
}
