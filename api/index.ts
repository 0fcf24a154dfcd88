/**
 * The HTTP ingest API as one Fastify registration: security headers and request ids,
 * the error shape, and the /v1 routes. app/main.ts builds the dependencies and
 * calls registerApi on the process's one HTTP server.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { RedisClient } from '../lib/clients/redis.js';
import type { PrismaClient } from '../lib/clients/prisma.js';
import type { Storage } from '../lib/clients/storage.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { createSlidingWindowLimiter } from '../lib/ratelimit/sliding-window.js';
import { createSettingsCache } from '../lib/tenants/settings-store.js';
import type { Producer } from '../producers/index.js';
import { createGuards, type Guards } from './auth.js';
import { createAuthenticator, type Authenticator } from './authenticator.js';
import { createDenialRecorder } from './denials.js';
import { createOperatorDenials } from './operator-denials.js';
import { frameworkErrors, registerErrorHandling } from './errors.js';
import { registerInputChecks } from './input.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerAlertRoutes } from './routes/alerts.js';
import { registerSettingsRoutes } from './routes/settings.js';
import { registerTenantRoutes } from './routes/tenants.js';
import { registerChannelRoutes } from './routes/channels.js';
import { registerRetentionRoutes } from './routes/retention.js';
import { registerPrivacyRoutes } from './routes/privacy.js';
import { registerSubjectRoutes } from './routes/subjects.js';
import { erasureKeys } from '../lib/privacy/erasure-record.js';
import { registerSecurity, securityHeaderLines, setResponseHeaders, type SecurityOptions } from './security.js';

export { requestIdFor } from './security.js';

export interface ApiDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  redis: RedisClient;
  prisma: PrismaClient;
  producer: Producer;
  /** The object store (retention's preview lists the object classes in it; subject exports go there). */
  storage?: Storage;
  clock?: () => Date;
  /** CSP for paths the API does not own (Bull Board's UI). */
  cspFor?: (url: string) => string | undefined;
}

export interface Api {
  guards: Guards;
  authenticator: Authenticator;
  close(): Promise<void>;
}

/**
 * Fastify's `frameworkErrors` server option (set when the server is built, before
 * registerApi): errors raised before routing, in the API's shape and with the headers
 * every response carries, which the onSend hook does not add to these.
 */
export function frameworkErrorsFor(
  options: Pick<SecurityOptions, 'tlsEnabled' | 'cspFor'>,
): FastifyServerOptions['frameworkErrors'] {
  return (err, request, reply) => {
    setResponseHeaders(request, reply, options);
    frameworkErrors(err, request, reply);
  };
}

/**
 * Fastify's `clientErrorHandler` option: the answer to bytes Node's HTTP parser refuses
 * (a NUL or a space where a header or the request line cannot hold one, an unknown
 * method, Content-Length with Transfer-Encoding, headers over 16 KB). Fastify's own
 * answer was `{"error":"Bad Request","message":"Client Error","statusCode":400}`,
 * without the security headers: here it is the API's shape, naming what the parser
 * found, with the headers every answer carries and a request id of its own (none was
 * read). Written straight to the socket, which is then closed, as Fastify does.
 */
export function clientErrorHandlerFor(
  options: Pick<SecurityOptions, 'tlsEnabled' | 'cspFor'>,
): NonNullable<FastifyServerOptions['clientErrorHandler']> {
  return function clientError(this: FastifyInstance, err, socket) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNRESET' || socket.destroyed) return;
    // llhttp's reason is one of its fixed phrases ("Invalid header value char"); anything else is not quoted.
    const reason = (err as { reason?: unknown }).reason;
    const why =
      typeof reason === 'string' && /^[A-Za-z0-9 ,.'-]{1,100}$/.test(reason)
        ? reason.toLowerCase()
        : 'it could not be parsed';
    const [status, text, message] =
      code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'the request headers are larger than the server accepts (16 KB)']
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'the request did not arrive in time']
          : [400, 'Bad Request', `the request is not valid HTTP/1.1: ${why}`];
    const requestId = randomUUID();
    this.log.debug(
      { event: 'http_client_error', code, status, request_id: requestId },
      'request refused by the HTTP parser',
    );
    if (socket.writable) {
      const body = JSON.stringify({ error: { code: 'bad_request', message } });
      const head = [
        `HTTP/1.1 ${status} ${text}`,
        'content-type: application/json; charset=utf-8',
        `content-length: ${Buffer.byteLength(body)}`,
        'connection: close',
        `x-request-id: ${requestId}`,
        ...securityHeaderLines('', options),
      ];
      socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    }
    socket.destroy(err);
  };
}

/** One warn line per minute at most while keys are accepted from memory (a database outage). */
function servedFromMemoryLog(logger: Logger): (err: unknown) => void {
  let last = 0;
  return (err) => {
    if (Date.now() - last < 60_000) return;
    last = Date.now();
    logger.warn(
      { event: 'apikey_served_from_memory', err },
      'database unreachable: API keys verified lately are accepted from memory (API_KEY_OUTAGE_GRACE_MS)',
    );
  };
}

export function registerApi(app: FastifyInstance, deps: ApiDeps): Api {
  const { config, metrics } = deps;
  const authenticator = createAuthenticator(deps.prisma, {
    cacheMs: config.apiKeyCacheMs,
    outageGraceMs: config.apiKeyOutageGraceMs,
    onServedFromMemory: servedFromMemoryLog(deps.logger),
    clock: deps.clock,
    writeAudit: (entry) => deps.producer.audit.write(entry),
    onError: (err) =>
      deps.logger.warn({ event: 'apikey_use_flush_failed', err }, 'could not record API key use; kept to try again'),
  });
  // Single-key commands: with a Redis Cluster these spread over its masters (keyPrefix,
  // not the queues' hash tag). The operator lockout's script takes two keys at once,
  // which stay together in the queues' slot (queuePrefix).
  const recordDenial = createDenialRecorder({
    producer: deps.producer,
    redis: deps.redis,
    prefix: config.keyPrefix,
    logger: deps.logger,
    onDenial: (reason) => metrics.apiKeyDenials.inc({ reason }),
    // The source throttle's minute follows the app's clock, as the other denial bounds do.
    clock: deps.clock ? () => deps.clock!().getTime() : undefined,
  });
  // Label children looked up once: this counts every API request.
  const throttleCounters = {
    allow: metrics.abuseOutcomes.labels({ outcome: 'allow' }),
    deny: metrics.abuseOutcomes.labels({ outcome: 'deny' }),
  };
  const guards = createGuards({
    authenticator,
    recordDenial,
    limiter: createSlidingWindowLimiter(deps.redis, { keyPrefix: `${config.keyPrefix}:ratelimit` }),
    settingsOf: createSettingsCache(deps.prisma, config.settingsCacheMs),
    operator: config.operator,
    operatorDenials: createOperatorDenials({
      producer: deps.producer,
      redis: deps.redis,
      prefix: config.queuePrefix,
      logger: deps.logger,
      clock: deps.clock,
    }),
    logger: deps.logger,
    onThrottle: (outcome) => throttleCounters[outcome].inc(),
  });
  registerSecurity(app, { tlsEnabled: config.tlsEnabled, corsOrigins: config.corsOrigins, cspFor: deps.cspFor });
  // JSON bodies only: Fastify also parses text/plain by default, which let such a body
  // reach the routes as a string (a 400) instead of the documented 415.
  app.removeContentTypeParser('text/plain');
  registerErrorHandling(app, {
    onOutage: ({ dependency, reason }) => {
      metrics.apiUnavailable.inc({ dependency, reason });
      if (reason === 'out_of_memory' && dependency === 'redis') metrics.redisOutOfMemory.inc({ source: 'api' });
    },
  });
  registerInputChecks(app);
  registerAuditRoutes(app, { producer: deps.producer, prisma: deps.prisma, guards });
  registerAlertRoutes(app, { producer: deps.producer, prisma: deps.prisma, guards });
  registerSettingsRoutes(app, { prisma: deps.prisma, guards });
  registerTenantRoutes(app, { prisma: deps.prisma, guards });
  registerChannelRoutes(app, {
    prisma: deps.prisma,
    guards,
    targets: { allowPrivateTargets: config.alertTargetsAllowPrivate },
  });
  registerRetentionRoutes(app, { prisma: deps.prisma, guards, store: deps.storage });
  registerPrivacyRoutes(app, { prisma: deps.prisma, guards, config, storage: deps.storage, clock: deps.clock });
  registerSubjectRoutes(app, {
    prisma: deps.prisma,
    guards,
    storage: deps.storage,
    signer: erasureKeys(config).signer,
  });
  return {
    guards,
    authenticator,
    close: async () => {
      await recordDenial.close();
      await authenticator.close();
    },
  };
}
