/**
 * One error shape for every route: `{ "error": { "code", "message", "fields" } }`,
 * with the HTTP status that says what went wrong. Never a stack trace; unexpected
 * errors are logged with the request id and answered with a generic 500.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConflictError, NotFoundError, ValidationError, type FieldProblem } from '../lib/errors.js';
import { OUTAGE_MESSAGES, RETRY_AFTER_SECONDS, outageOf, type Outage } from './unavailable.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldProblem[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  /** Fastify's name for the status: error handlers other than ours (Bull Board's) read it. */
  get statusCode(): number {
    return this.status;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: FieldProblem[] };
}

/** The route as registered (`POST /v1/audit`), or the path when no route matched. */
export function routeOf(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
}

function fromFastify(err: FastifyError, request?: FastifyRequest): ApiError | undefined {
  const status = err.statusCode ?? 0;
  if (status === 413) {
    // The caller needs the number to split or trim the body; the limit is per route.
    const limit = request?.routeOptions.bodyLimit;
    const where = request ? ` of ${routeOf(request)}` : '';
    return new ApiError(413, 'payload_too_large', limit ? `the request body is larger than the ${limit}-byte limit${where}` : 'the request body is larger than the limit');
  }
  if (status === 415) return new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return new ApiError(400, 'invalid_json', 'the body is not valid JSON');
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ApiError(400, 'invalid_json', 'the body is empty but the content type is JSON');
  if (status >= 400 && status < 500) return new ApiError(status, 'bad_request', err.message);
  return undefined;
}

export function toApiError(err: unknown, request?: FastifyRequest): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ValidationError) return new ApiError(400, 'validation_failed', err.message, err.fields);
  if (err instanceof NotFoundError) return new ApiError(404, 'not_found', err.message);
  if (err instanceof ConflictError) return new ApiError(409, 'conflict', err.message);
  return fromFastify(err as FastifyError, request);
}

function send(reply: FastifyReply, api: ApiError): FastifyReply {
  if (api.headers) reply.headers(api.headers);
  const body: ErrorBody = { error: { code: api.code, message: api.message, ...(api.fields ? { fields: api.fields } : {}) } };
  return reply.code(api.status).send(body);
}

/**
 * Fastify's `frameworkErrors` option: errors it raises before any route or error
 * handler exists for the request (a URL whose percent-encoding is not UTF-8, a path
 * parameter over the length limit). Without it they come out in Fastify's own shape.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_BAD_URL') {
    send(reply, new ApiError(400, 'bad_request', 'the URL path is not valid: a percent-encoded part of it does not decode to UTF-8 text'));
  } else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    send(reply, new ApiError(414, 'bad_request', 'a part of the URL path is longer than the server accepts'));
  } else {
    request.log.error({ event: 'http_internal_error', err }, 'request failed before routing');
    void reply.code(500).send({ error: { code: 'internal', message: `internal error; quote request id ${request.id}` } });
  }
}

/** @param options.onOutage called for each request answered 503 because a dependency is out (metrics). */
export function registerErrorHandling(app: FastifyInstance, options: { onOutage?: (outage: Outage) => void } = {}): void {
  app.setErrorHandler((err, request, reply) => {
    const api = toApiError(err, request);
    const outage = api ? undefined : outageOf(err);
    if (outage) {
      // Expected during an outage: one warn line per request, never a 500.
      request.log.warn({ event: 'dependency_unavailable', dependency: outage.dependency, reason: outage.reason, err }, 'request refused: a dependency is unavailable');
      options.onOutage?.(outage);
      return send(reply, unavailableError(outage));
    }
    if (!api) {
      request.log.error({ event: 'http_internal_error', err }, 'request failed');
      return reply.code(500).send({ error: { code: 'internal', message: `internal error; quote request id ${request.id}` } });
    }
    return send(reply, api);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
}

/** An outage as a 503 with Retry-After (api/unavailable.ts tells which outage it is). */
export function unavailableError(outage: Outage): ApiError {
  return new ApiError(503, 'unavailable', OUTAGE_MESSAGES[outage.dependency][outage.reason], undefined, { 'retry-after': String(RETRY_AFTER_SECONDS) });
}
