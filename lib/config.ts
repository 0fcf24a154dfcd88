/**
 * Configuration: read from the environment once, validated into one frozen object.
 * Every bad variable is reported at once, by name; values are never echoed because
 * several of them (DATABASE_URL, REDIS_URL) can carry passwords.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { ConfigError, type FieldProblem } from './errors.js';

export const ENVIRONMENTS = ['dev', 'staging', 'live'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

const cron = z.string().refine((v) => {
  try {
    CronExpressionParser.parse(v, { tz: 'UTC' });
    return v.trim().split(/\s+/).length >= 5;
  } catch {
    return false;
  }
}, 'must be a valid cron expression (5 or 6 fields), e.g. "0 * * * *"');

const envSchema = z.object({
  /** Postgres connection string. Default: postgresql://postgres@127.0.0.1:5432/bulwark */
  DATABASE_URL: url(['postgresql:', 'postgres:']).default('postgresql://postgres@127.0.0.1:5432/bulwark'),
  /** Redis connection string. Default: redis://127.0.0.1:6379 */
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  /** Which environment this is. Default: dev. `live` forbids debug logging. */
  BULWARK_ENV: z.enum(ENVIRONMENTS).default('dev'),
  /** Address the HTTP server binds. Default: 127.0.0.1 (0.0.0.0 in the container). */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** HTTP port for /healthz, /readyz, /metrics. Default: 8080. 0 picks a free port. */
  PORT: int(0, 65535).default(8080),
  /** pino level. Default: info. */
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Prefix of every BullMQ key in Redis. Default: bulwark. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')
    .default('bulwark'),
  /** When the audit chain verify job runs (UTC). Default: hourly, "0 * * * *". */
  AUDIT_VERIFY_CRON: cron.default('0 * * * *'),
  /** Overrides the audit-write worker concurrency of the contract policy. */
  AUDIT_WRITE_CONCURRENCY: int(1, 1000).optional(),
  /** Most entries written in one group-commit transaction. Default: 2000. */
  AUDIT_BATCH_MAX: int(1, 10000).default(2000),
  /** How long running jobs may take to finish on SIGTERM. Default: 10000 ms. */
  SHUTDOWN_TIMEOUT_MS: int(0, 600000).default(10000),
  /** BullMQ job lock; a crashed worker's jobs are retried after about this long. Default: 30000 ms. */
  WORKER_LOCK_DURATION_MS: int(1000, 600000).default(30000),
});

type Env = z.infer<typeof envSchema>;

/** The validated, frozen configuration every factory receives. */
export interface Config {
  readonly env: Env['BULWARK_ENV'];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly queuePrefix: string;
  readonly auditVerifyCron: string;
  readonly auditWriteConcurrency: number | undefined;
  readonly auditBatchMax: number;
  readonly shutdownTimeoutMs: number;
  readonly workerLockDurationMs: number;
}

/** Names of every variable loadConfig reads (the .env.example test checks this list). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

/**
 * Parse the environment into a frozen Config.
 * @throws ConfigError naming every invalid variable (never its value).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of CONFIG_VARIABLES) {
    const value = env[key];
    // An empty variable means "not set", as in most twelve-factor tools.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  const problems: FieldProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ path: String(i.path[0] ?? '(env)'), message: i.message }));
  if (parsed.success && parsed.data.BULWARK_ENV === 'live' && ['debug', 'trace'].includes(parsed.data.LOG_LEVEL)) {
    problems.push({ path: 'LOG_LEVEL', message: 'debug and trace are refused in live (they can log payloads)' });
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return Object.freeze({
    env: e.BULWARK_ENV,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    queuePrefix: e.QUEUE_PREFIX,
    auditVerifyCron: e.AUDIT_VERIFY_CRON,
    auditWriteConcurrency: e.AUDIT_WRITE_CONCURRENCY,
    auditBatchMax: e.AUDIT_BATCH_MAX,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    workerLockDurationMs: e.WORKER_LOCK_DURATION_MS,
  });
}
