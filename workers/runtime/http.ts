/**
 * The HTTP server of the worker process: /healthz (the process is alive), /readyz
 * (dependencies answer; 503 naming the failing checks otherwise) and /metrics.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppContext } from '../../lib/context.js';
import type { ReadinessReport } from './readiness.js';

// Probes and scrapes arrive every few seconds; only their failures are worth a log line.
const QUIET = { logLevel: 'warn' } as const;

export interface HttpServerOptions {
  readiness: () => Promise<ReadinessReport>;
  /** False once shutdown has begun, so load balancers stop sending work. */
  isAccepting: () => boolean;
}

export function createHttpServer(ctx: AppContext, options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
  });

  app.get('/healthz', QUIET, async () => ({ status: 'ok' }));

  app.get('/readyz', QUIET, async (_req, reply) => {
    const report = await options.readiness();
    const checks = { ...report.checks, accepting: { ok: options.isAccepting() } };
    const failing = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name]) => name);
    reply.code(failing.length === 0 ? 200 : 503);
    return { status: failing.length === 0 ? 'ready' : 'not_ready', failing, checks };
  });

  app.get('/metrics', QUIET, async (_req, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  return app;
}
