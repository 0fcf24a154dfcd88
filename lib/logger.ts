/**
 * Structured logging: pino JSON on stdout with `service` and `env` on every line and
 * ISO 8601 UTC timestamps. Every object logged passes through redactSecrets, so a
 * secret-bearing field is "[REDACTED]" at any depth, not only at known paths.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';
import { maskUrlCredentials, redactSecrets } from './redact.js';

export type { Logger } from 'pino';

/** Fields that tie a log line to its tenant, request, job and queue. */
export interface LogBindings {
  tenant_id?: string;
  request_id?: string;
  job_id?: string;
  queue?: string;
  [key: string]: unknown;
}

/**
 * Fastify logs its request and reply objects as `req` and `res`. Their method, URL and
 * status are getters, not own fields, so the redacting copy below would log them as
 * `{}`: they are turned into those plain fields first (no headers, so no credentials).
 */
function withHttpFields(object: Record<string, unknown>): Record<string, unknown> {
  const req = object.req as { method?: unknown; url?: unknown } | undefined;
  const res = object.res as { statusCode?: unknown } | undefined;
  const isReq = typeof req === 'object' && req !== null && typeof req.method === 'string';
  const isRes = typeof res === 'object' && res !== null && typeof res.statusCode === 'number';
  if (!isReq && !isRes) return object;
  return {
    ...object,
    ...(isReq ? { req: { method: req.method, url: req.url } } : {}),
    ...(isRes ? { res: { statusCode: res.statusCode } } : {}),
  };
}

/**
 * Create the root logger.
 * @param destination where lines go; default stdout. Tests pass a capturing stream.
 */
export function createLogger(config: Pick<Config, 'env' | 'logLevel'>, destination?: DestinationStream): Logger {
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: 'bulwark', env: config.env },
      timestamp: pino.stdTimeFunctions.isoTime,
      // formatters.log already turned errors into plain redacted objects; pino's own err
      // serializer would re-wrap them as type "Object".
      serializers: { err: (e: unknown) => e },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redactSecrets(bindings),
        log: (object) => redactSecrets(withHttpFields(object)),
      },
      hooks: {
        logMethod(args, method) {
          return method.apply(this, safeArgs(args) as Parameters<typeof method>);
        },
        // Last line of defence: whatever path a URL with credentials took into the line.
        streamWrite: (line) => maskUrlCredentials(line),
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
  // pino serialises child bindings without the formatters above; children inherit
  // this method from the root (they are created with it as prototype), so every
  // child, at any depth, gets its bindings redacted too.
  const pinoChild = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return pinoChild.call(this, redactSecrets(bindings), options);
  } as Logger['child'];
  return logger;
}

/**
 * Arguments as pino should see them. `log.error(err)` alone would make the raw
 * err.message the line's msg, so the error moves under `err` and its masked message
 * becomes the msg; objects interpolated by %o/%j are redacted like the first one.
 */
function safeArgs(args: unknown[]): unknown[] {
  const [first, ...rest] = args;
  const moved =
    first instanceof Error
      ? [{ err: first }, ...(typeof rest[0] === 'string' ? rest : [first.message, ...rest])]
      : args;
  return moved.map((a, i) => (typeof a === 'string' ? maskUrlCredentials(a) : i > 0 ? redactSecrets(a) : a));
}

/** A child logger carrying the given correlation ids. */
export function withContext(logger: Logger, bindings: LogBindings): Logger {
  return logger.child(bindings);
}
