/**
 * The HTTP server of every `bulwark start` process: /healthz (the process is alive),
 * /readyz (dependencies answer; 503 naming the failing checks otherwise), /metrics
 * (behind a bearer token when METRICS_TOKEN is set), plus whatever `configure` registers
 * (the /v1 API and Bull Board, in the `api` and `all` roles).
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../../lib/context.js';
import { lazyChild } from '../../lib/lazy-logger.js';
import type { Logger } from '../../lib/logger.js';
import type { ReadinessReport } from './readiness.js';

// Probes and scrapes arrive every few seconds; only their failures are worth a log line.
const QUIET = { logLevel: 'warn' } as const;

export interface HttpServerOptions {
  readiness: () => Promise<ReadinessReport>;
  /** More of /readyz's answer, beside its checks (the process's role, whether it is the active scheduler). */
  about?: () => Record<string, unknown>;
  /** Generates the request id from the raw request (a valid X-Request-Id or a UUID). */
  requestId: (req: import('node:http').IncomingMessage) => string;
  /** Answers the errors Fastify raises before routing (a malformed URL) in the API's shape. */
  frameworkErrors?: FastifyServerOptions['frameworkErrors'];
  /** Answers requests Node's HTTP parser refuses, in the API's shape. */
  clientErrorHandler?: FastifyServerOptions['clientErrorHandler'];
  /** Registers the rest of the routes (API, dashboard) before the server listens. */
  configure?: (app: FastifyInstance) => void | Promise<void>;
}

const sha = (s: string) => createHash('sha256').update(s).digest();

export async function createHttpServer(ctx: AppContext, options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: ctx.config.apiBodyLimitBytes,
    genReqId: options.requestId,
    ...(options.frameworkErrors ? { frameworkErrors: options.frameworkErrors } : {}),
    ...(options.clientErrorHandler ? { clientErrorHandler: options.clientErrorHandler } : {}),
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    // A pino child per request only when the request writes a line (lib/lazy-logger.ts).
    childLoggerFactory: (logger, bindings, options) =>
      lazyChild(logger as Logger, bindings, options) as unknown as FastifyBaseLogger,
    // Only the configured proxies' X-Forwarded-For is believed (TRUSTED_PROXIES).
    trustProxy: ctx.config.trustedProxies === false ? false : [...ctx.config.trustedProxies],
  });
  await options.configure?.(app);
  // Closing waits for open connections. Keep-alive ones that were busy when the close
  // began become idle only after their response, and Node closes idle connections only
  // once, at the start: a client's idle sockets then held shutdown for their own
  // keep-alive timeout (about 8 s measured). Closed as they become idle instead, so no
  // request is cut.
  app.addHook('preClose', (done) => {
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100).unref();
    app.server.once('close', () => clearInterval(sweep));
    done();
  });

  app.get('/healthz', QUIET, async () => ({ status: 'ok' }));

  app.get('/readyz', QUIET, async (_req, reply) => {
    const { ready, checks } = await options.readiness();
    const failing = Object.entries(checks)
      .filter(([, c]) => !c.ok && c.required !== false)
      .map(([name]) => name);
    // Dependencies the process works without (the object store): named, never a 503.
    const degraded = Object.entries(checks)
      .filter(([, c]) => !c.ok && c.required === false)
      .map(([name]) => name);
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', failing, degraded, checks, ...options.about?.() };
  });

  const token = ctx.config.metricsToken;
  app.get('/metrics', QUIET, async (request, reply) => {
    if (token) {
      const auth = request.headers.authorization ?? '';
      // The scheme is case-insensitive (RFC 9110 §11.1).
      const given = /^bearer /i.test(auth) ? auth.slice(7) : '';
      if (!timingSafeEqual(sha(given), sha(token))) {
        reply.code(401).header('www-authenticate', 'Bearer');
        return { error: { code: 'unauthenticated', message: 'metrics need the scrape token (METRICS_TOKEN)' } };
      }
    }
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  return app;
}
