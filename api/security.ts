/**
 * Headers every response carries, the request id, and CORS (closed unless origins
 * are configured). The request id is a valid incoming X-Request-Id or a new UUID; it
 * is echoed back and, via request.id, carried into logs, jobs and audit entries.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export interface SecurityOptions {
  tlsEnabled: boolean;
  corsOrigins: readonly string[];
  /** CSP per path prefix; the API's own is the strictest. */
  cspFor?: (url: string) => string | undefined;
}

export function registerSecurity(app: FastifyInstance, options: SecurityOptions): void {
  const allowed = new Set(options.corsOrigins);
  // With no origin configured CORS stays closed, and requests skip this hook entirely.
  if (allowed.size > 0) {
    app.addHook('onRequest', async (request, reply) => {
      const origin = request.headers.origin;
      if (origin && allowed.has(origin)) {
        reply.header('access-control-allow-origin', origin);
        reply.header('vary', 'Origin');
        if (request.method === 'OPTIONS') {
          reply.header('access-control-allow-methods', 'GET, POST, PATCH, DELETE');
          reply.header('access-control-allow-headers', 'authorization, x-api-key, content-type, x-request-id');
          reply.header('access-control-max-age', '600');
          return reply.code(204).send();
        }
      }
      return undefined;
    });
  }
  // Callback style: this runs for every response, and an async hook costs a promise.
  app.addHook('onSend', (request, reply, payload, done) => {
    setResponseHeaders(request, reply, options);
    done(null, payload);
  });
}

/**
 * The headers of every response. Also called directly for errors Fastify answers
 * before routing (api/errors.ts frameworkErrors), which skip onSend hooks.
 */
export function setResponseHeaders(request: FastifyRequest, reply: FastifyReply, options: Pick<SecurityOptions, 'tlsEnabled' | 'cspFor'>): void {
  reply.header('x-request-id', request.id);
  for (const [name, value] of FIXED_HEADERS) reply.header(name, value);
  reply.header('content-security-policy', options.cspFor?.(request.url) ?? API_CSP);
  if (options.tlsEnabled) reply.header('strict-transport-security', HSTS);
  reply.removeHeader('x-powered-by');
  reply.removeHeader('server');
}

const FIXED_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['cross-origin-opener-policy', 'same-origin'],
  ['cross-origin-resource-policy', 'same-origin'],
  ['permissions-policy', 'camera=(), microphone=(), geolocation=()'],
];
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * The same headers as raw `name: value` lines, for the answers written straight to the
 * socket to requests the HTTP parser refused (index.ts clientErrorHandlerFor), which
 * have no reply object.
 */
export function securityHeaderLines(url: string, options: Pick<SecurityOptions, 'tlsEnabled' | 'cspFor'>): string[] {
  const lines = FIXED_HEADERS.map(([name, value]) => `${name}: ${value}`);
  lines.push(`content-security-policy: ${options.cspFor?.(url) ?? API_CSP}`);
  if (options.tlsEnabled) lines.push(`strict-transport-security: ${HSTS}`);
  return lines;
}
