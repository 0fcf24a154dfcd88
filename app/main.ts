/**
 * The composition root: the one place that builds clients. startBulwark() builds the
 * context, starts what the process's role runs (runtime/roles.ts: the workers, the
 * scheduler, the HTTP API; probes and metrics in every role), and returns a handle whose
 * stop() shuts everything down in order. Nothing here runs at import time.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { createPgPool, createPrisma, trackBackendPids } from '../lib/clients/prisma.js';
import { createApiRedis, createRedis, untilReady } from '../lib/clients/redis.js';
import { createStorage, probeStorage } from '../lib/clients/storage.js';
import { survivesConnectionLoss } from '../lib/db/connection-loss.js';
import { requireMasterKeys, type Config } from '../lib/config.js';
import type { AppContext } from '../lib/context.js';
import { createLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { systemClock, withTimeout, type Clock } from '../lib/time.js';
import { cancelByApplicationName, cancelOwnStatements } from './runtime/cancel-statements.js';
import { processApplicationName } from '../lib/db/pooler.js';
import { stopWorkers } from './runtime/stop-workers.js';
import type { Api } from '../api/index.js';
import type { Queue } from 'bullmq';
import { createProducer } from '../producers/index.js';
import { StoredAfterRefusalError } from '../producers/enqueue-bound.js';
import { readFairStats } from '../lib/fair/status.js';
import type { AlertWorkerOptions } from '../workers/alert/index.js';
import { registry } from '../workers/registry.js';
import { createWorkers, queuesOf, wireGauges } from './workers.js';
import { createReadiness } from './runtime/readiness.js';
import { refuseUnmigratedSchema } from './runtime/schema-check.js';
import { startScheduler } from './runtime/scheduler.js';
import { boardQueuesOn, createQueueHandles } from './runtime/queue-handles.js';
import { partsOf, type ProcessRole } from './runtime/roles.js';

/** A scrape waits at most this long for the object store (bulwark_object_store_up 0 past it). */
const STORE_PROBE_TIMEOUT_MS = 2000;

export interface StartOptions {
  /** Where log lines go. Default: stdout. */
  logDestination?: DestinationStream;
  clock?: Clock;
  /** What this process runs (`bulwark start --role`). Default: all. */
  role?: ProcessRole;
  /** Run the HTTP server (the API and Bull Board, or only the probes, by role). Default: true. */
  http?: boolean;
  /** Run the scheduler. Default: by role. */
  scheduler?: boolean;
  /** Start the queue workers. Default: by role (false builds them but starts none). */
  workers?: boolean;
  /** Options of the alert delivery worker (tests point channels at local servers). */
  alerts?: AlertWorkerOptions;
}

export interface RunningBulwark {
  ctx: AppContext;
  /** The HTTP server's address, e.g. http://127.0.0.1:8080, when it runs. */
  url: string | undefined;
  /** The HTTP server when it runs (its routes are what docs/api.md documents). */
  http: FastifyInstance | undefined;
  /**
   * Fails /readyz at once; with the HTTP server listening, keeps serving and working for
   * SHUTDOWN_DRAIN_MS; then stops the workers (SHUTDOWN_TIMEOUT_MS) and closes everything.
   * Every call returns the first call's promise.
   */
  stop(reason?: string): Promise<void>;
}

export function createContext(config: Config, options: StartOptions = {}): AppContext {
  const logger = createLogger(config, options.logDestination);
  const applicationName = processApplicationName(options.role ?? 'all');
  const pool = createPgPool(
    config,
    config.databasePoolSize,
    (err, inUse) =>
      logger.warn(
        { event: 'db_connection_lost', in_use: inUse, err },
        inUse ? 'database connection lost while in use; its work is retried' : 'idle database connection closed',
      ),
    applicationName,
  );
  return {
    config,
    logger,
    metrics: createMetrics(),
    redis: createRedis(config),
    prisma: createPrisma(config, { pool }),
    pg: pool,
    // Behind PgBouncer the session ids the pool learns are PgBouncer's, not the server's.
    pgBackendPids: config.databasePooler === 'pgbouncer' ? () => [] : trackBackendPids(pool),
    pgApplicationName: applicationName,
    clock: options.clock ?? systemClock,
    // Makes no request: a store that is down never stops a start (audit and alerts do not need it).
    storage: createStorage(config.storage),
  };
}

/** The context's clients, closed last (workers, queues and servers first). */
async function closeClients(ctx: AppContext): Promise<void> {
  await ctx.prisma.$disconnect();
  await ctx.pg.end().catch(() => undefined);
  await ctx.redis.quit().catch(() => ctx.redis.disconnect());
}

const flushLogs = (ctx: AppContext) => new Promise<void>((resolve) => ctx.logger.flush(() => resolve()));

/** A direct connection of its own (the pool may be all busy) to cancel this process's running statements. */
async function cancelRunningStatements(ctx: AppContext): Promise<number> {
  const { config } = ctx;
  const client = survivesConnectionLoss(
    new pg.Client({ connectionString: config.directDatabaseUrl, connectionTimeoutMillis: 2000 }),
  );
  await client.connect();
  try {
    return config.databasePooler === 'pgbouncer'
      ? await cancelByApplicationName(client, ctx.pgApplicationName)
      : await cancelOwnStatements(client, ctx.pgBackendPids());
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startBulwark(config: Config, options: StartOptions = {}): Promise<RunningBulwark> {
  const role = options.role ?? 'all';
  const parts = partsOf(role);
  // Fail before connecting anything when the secrets store could not work (the
  // scheduler alone never reads a secret, so its hosts need no master key).
  if (parts.database) requireMasterKeys(config);
  const ctx = createContext(config, options);
  const { logger } = ctx;
  try {
    await refuseUnmigratedSchema(ctx);
  } catch (err) {
    // Nothing has started: closed, the refused process exits.
    await closeClients(ctx);
    await flushLogs(ctx);
    throw err;
  }
  // Every queue, worker and hook comes from the worker registry (workers/registry.ts); a
  // process of a role without workers builds only the queue handles.
  const jobs = parts.workers
    ? createWorkers(ctx, registry, { ...(options.alerts ? { alerts: options.alerts } : {}) })
    : createQueueHandles(ctx, registry);
  const { workers, queues: countQueues } = jobs;
  // The job kinds' domain gauges (stuck alerts, restore drills), from their registry lines.
  wireGauges(ctx, registry, { database: parts.database });
  // Bounded: with Redis away the counts would wait for it, and so would every scrape (it hung).
  ctx.metrics.setQueueCountSource(async () =>
    withTimeout(
      Promise.all(
        countQueues.map(async (q) => ({ queue: q.name, counts: await q.getJobCounts(), paused: await q.isPaused() })),
      ),
      config.apiRedisTimeoutMs,
      'queue counts',
    ),
  );
  ctx.metrics.setFairSource(() =>
    withTimeout(
      readFairStats(ctx.redis, config.queuePrefix, queuesOf(registry)),
      config.apiRedisTimeoutMs,
      'fair stats',
    ),
  );
  let accepting = true;
  // Everything below may fail half way (a port in use, a Redis that refuses the
  // scheduler): then what was opened is closed again, so a failed start exits.
  let scheduler: Awaited<ReturnType<typeof startScheduler>> | undefined;
  let apiRedis: ReturnType<typeof createApiRedis> | undefined;
  let producer: ReturnType<typeof createProducer> | undefined;
  let boardQueues: Queue[] = [];
  let api: Api | undefined;
  let server: Awaited<ReturnType<typeof startHttp>> | undefined;

  let stopping: Promise<void> | undefined;
  async function stop(reason = 'stop requested'): Promise<void> {
    accepting = false;
    // Load balancers see the failing /readyz only while the server answers, so a process
    // without a listening server (none, or a failed start) has nothing to drain.
    const drainMs = server?.server.listening ? config.shutdownDrainMs : 0;
    if (drainMs > 0) {
      logger.info(
        { event: 'bulwark_draining', reason, drain_ms: drainMs },
        'draining: /readyz fails, still serving and working',
      );
      await sleep(drainMs);
    }
    logger.info(
      { event: 'bulwark_stopping', reason, timeout_ms: config.shutdownTimeoutMs },
      'stopping: no new jobs, waiting for running ones',
    );
    // Running jobs get until the deadline (app/runtime/stop-workers.ts).
    await stopWorkers(workers, {
      timeoutMs: config.shutdownTimeoutMs,
      logger,
      onForced: async () => {
        // Abandoned jobs end what they hold (the audit committer starts nothing queued
        // any more), and the running statement is cancelled, so a transaction waiting
        // on a lock rolls back now rather than at its 30 s statement timeout.
        jobs.abort();
        const cancelled = await cancelRunningStatements(ctx).catch((e: unknown) => {
          logger.warn({ event: 'shutdown_cancel_failed', err: e }, 'could not cancel running statements');
          return 0;
        });
        if (cancelled > 0)
          logger.warn(
            { event: 'shutdown_statements_cancelled', count: cancelled },
            'running database statements cancelled',
          );
      },
    });
    await jobs.drain();
    await scheduler?.close();
    await Promise.all(countQueues.map((q) => q.close()));
    await server?.close();
    await api?.close();
    await Promise.all(boardQueues.map((q) => q.close()));
    await producer?.close();
    await closeClients(ctx);
    await apiRedis?.quit().catch(() => apiRedis?.disconnect());
    logger.info({ event: 'bulwark_stopped' }, 'bulwark stopped');
    await flushLogs(ctx);
  }

  let url: string | undefined;
  try {
    scheduler = (options.scheduler ?? parts.scheduler) ? await startScheduler(ctx, registry, jobs.queue) : undefined;
    // The API (only with the HTTP server) enqueues through the same typed producer
    // application code uses, on a connection of its own (see createRedis on auto-pipelining).
    const readiness = createReadiness(ctx, () => accepting, { database: parts.database });
    // Readiness as a metric too: a process that answers scrapes but cannot work (database
    // down, migration pending) is otherwise invisible to Prometheus.
    // The object store is not a readiness condition (audit and alerts work without it):
    // it has its own gauge, so the rules on bulwark_ready never page for it.
    ctx.metrics.setReadinessSource(async () =>
      Object.fromEntries(
        Object.entries((await readiness()).checks).flatMap(([name, c]) => (c.required === false ? [] : [[name, c.ok]])),
      ),
    );
    if (parts.database)
      ctx.metrics.setObjectStoreSource(() =>
        probeStorage(ctx.storage, STORE_PROBE_TIMEOUT_MS).then(
          () => true,
          () => false,
        ),
      );
    // What /readyz says besides its checks: the role, and whether this is the active scheduler.
    const about = () => ({
      role,
      ...(scheduler ? { scheduler: scheduler.isLeader() ? 'active' : 'standby' } : {}),
    });
    if (options.http !== false && !parts.api) {
      // Workers and the scheduler: probes and metrics only, no API, no Bull Board.
      const { createHttpServer } = await import('./runtime/http.js');
      server = await createHttpServer(ctx, { readiness, about, requestId: () => randomUUID() });
      url = await server.listen({ host: config.host, port: config.port });
    } else if (options.http !== false) {
      // Refuses instead of queueing while Redis is away (createApiRedis); so that the first
      // requests are not refused, serving waits for it to be ready (at most 10 s: past that it serves, refusing with 503 until Redis answers).
      const redis = (apiRedis = createApiRedis(config));
      // Each reconnect attempt fails with an error event while Redis is away; requests say it (503).
      redis.on('error', (err: Error) =>
        logger.debug({ event: 'redis_connection_error', component: 'api', err }, 'API Redis connection error'),
      );
      await untilReady(redis, 10_000);
      const p = (producer = createProducer({
        connection: redis,
        queuePrefix: config.queuePrefix,
        clock: ctx.clock,
        fair: config.fair.dispatch,
        // Security alerts raised from audit entries (denial bursts included) link to their runbook.
        runbookBaseUrl: config.runbookBaseUrl,
        // Refused within the bound, and then never stored (lib/fair/deadline.ts).
        enqueueTimeoutMs: config.apiRedisTimeoutMs,
        onError: (err) => {
          if (err instanceof StoredAfterRefusalError) {
            ctx.metrics.apiStoredAfterRefusal.inc();
            logger.error({ event: 'enqueue_stored_after_refusal', component: 'producer', err }, err.message);
          } else logger.warn({ event: 'queue_error', component: 'producer', err }, 'queue connection error');
        },
      }));
      server = await startHttp(ctx, readiness, about, async (app, { registerApi, bullBoardCsp, registerBullBoard }) => {
        api = registerApi(app, { ...ctx, redis, producer: p, cspFor: bullBoardCsp });
        await registerBullBoard(app, {
          queues: (boardQueues = boardQueuesOn(redis, countQueues, config.queuePrefix, logger)),
          readOnly: config.bullBoardReadOnly,
          verifyOperator: api.guards.verifyOperator,
          operatorSet: config.operator !== undefined,
          logger,
        });
      });
      url = await server.listen({ host: config.host, port: config.port });
    }
  } catch (err) {
    await stop('start failed').catch(() => undefined);
    throw err;
  }
  if (options.workers ?? parts.workers) for (const w of workers) void w.run();
  logger.info(
    { event: 'bulwark_started', role, url, queues: workers.map((w) => w.name), scheduler: scheduler?.isLeader() },
    'bulwark started',
  );
  return {
    ctx,
    url,
    http: server,
    stop: (reason) => (stopping ??= stop(reason)),
  };
}

/**
 * Fastify, the API and Bull Board, loaded only by a process that serves HTTP: a
 * workers-only process stays smaller by their code and heap.
 */
async function startHttp(
  ctx: AppContext,
  readiness: ReturnType<typeof createReadiness>,
  about: () => Record<string, unknown>,
  configure: (
    app: FastifyInstance,
    parts: { registerApi: typeof import('../api/index.js').registerApi } & Pick<
      typeof import('../api/bull-board.js'),
      'bullBoardCsp' | 'registerBullBoard'
    >,
  ) => Promise<void>,
) {
  const [
    { createHttpServer },
    { registerApi, requestIdFor, frameworkErrorsFor, clientErrorHandlerFor },
    { bullBoardCsp, registerBullBoard },
  ] = await Promise.all([import('./runtime/http.js'), import('../api/index.js'), import('../api/bull-board.js')]);
  const headerOptions = { tlsEnabled: ctx.config.tlsEnabled, cspFor: bullBoardCsp };
  return createHttpServer(ctx, {
    readiness,
    about,
    requestId: requestIdFor,
    frameworkErrors: frameworkErrorsFor(headerOptions),
    clientErrorHandler: clientErrorHandlerFor(headerOptions),
    configure: (app) => configure(app, { registerApi, bullBoardCsp, registerBullBoard }),
  });
}
