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
 * Create the root logger.
 * @param destination where lines go; default stdout. Tests pass a capturing stream.
 */
export function createLogger(
  config: Pick<Config, 'env' | 'logLevel'>,
  destination?: DestinationStream,
): Logger {
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: 'bulwark', env: config.env },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redactSecrets(bindings),
        log: (object) => redactSecrets(object),
      },
      hooks: {
        // Messages are strings we write, but they may quote a URL with credentials.
        logMethod(args, method) {
          const masked = args.map((a) => (typeof a === 'string' ? maskUrlCredentials(a) : a));
          return method.apply(this, masked as Parameters<typeof method>);
        },
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

/** A child logger carrying the given correlation ids. */
export function withContext(logger: Logger, bindings: LogBindings): Logger {
  return logger.child(bindings);
}
