/**
 * Configuration: read from the environment once, validated into one frozen object.
 * Every bad variable is reported at once, by name; values are never echoed because
 * several of them (DATABASE_URL, REDIS_URL) can carry passwords.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { parseMasterKeys, type MasterKeys } from './crypto/master-keys.js';
import { ConfigError, issueMessage, type FieldProblem } from './errors.js';
import { WEBHOOK_BODY_MAX_BYTES } from './contracts/alert-delivery.js';
import { refineRunbookBaseUrl } from './runbooks.js';
import { crossChecks, listOf } from './config-checks.js';
import { isBackupKeyList, isSigningKeyList } from './backup/key-format.js';
import { isCheckpointKey, isPublicKeyList } from './checkpoints/keys.js';
import { nodeList, queuePrefixFor, type RedisTopology } from './redis-topology.js';

export const ENVIRONMENTS = ['dev', 'staging', 'live'] as const;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** What DATABASE_URL leads to (DATABASE_POOLER). */
export const DATABASE_POOLERS = ['none', 'pgbouncer'] as const;

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

const cron = z.string().refine((v) => {
  try {
    CronExpressionParser.parse(v, { tz: 'UTC' });
    return v.trim().split(/\s+/).length >= 5;
  } catch {
    return false;
  }
}, 'must be a valid cron expression (5 or 6 fields), e.g. "0 * * * *"');

/** The key pair s3rver accepts; fine on a laptop, refused in live (lib/config-checks.ts). */
export const S3RVER_KEY = 'S3RVER';

// The S3 naming rules MinIO enforces, minus dotted names (they break TLS wildcards).
const bucketName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
    'must be 3-63 lowercase letters, digits or -, starting and ending with a letter or digit',
  );

const s3Endpoint = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (
      ['http:', 'https:'].includes(u.protocol) &&
      u.hostname !== '' &&
      (u.pathname === '/' || u.pathname === '') &&
      !u.search &&
      !u.hash &&
      !u.username &&
      !u.password
    );
  } catch {
    return false;
  }
}, 'must be http(s)://host[:port] with no path, query or credentials (the keys are S3_ACCESS_KEY and S3_SECRET_KEY)');

const envSchema = z.object({
  /** Postgres connection string. Default: postgresql://postgres@127.0.0.1:5432/bulwark */
  DATABASE_URL: url(['postgresql:', 'postgres:']).default('postgresql://postgres@127.0.0.1:5432/bulwark'),
  /**
   * Most Postgres connections the pool of `bulwark start` opens, shared by its workers
   * and its HTTP API (a forced shutdown opens one more). Default: 10.
   */
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  /**
   * What DATABASE_URL leads to: `none` (Postgres itself) or `pgbouncer` (PgBouncer in
   * transaction pooling mode: the pool then sends no session settings at connect, and
   * statements are cancelled by application name). Default: none.
   */
  DATABASE_POOLER: z.enum(DATABASE_POOLERS).default('none'),
  /**
   * A direct connection to Postgres (never through a pooler) for what needs a session of
   * its own: `bulwark migrate`, backups (pg_dump), restores, restore drills, and cancelling
   * statements at a forced shutdown. Default: DATABASE_URL. Required with DATABASE_POOLER=pgbouncer.
   */
  DIRECT_DATABASE_URL: url(['postgresql:', 'postgres:']).optional(),
  /** Redis connection string. Default: redis://127.0.0.1:6379 */
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  /**
   * A Redis Cluster's nodes, `host:port,host:port` (a few are enough; the rest are
   * discovered). When set, Bulwark speaks to the cluster, REDIS_URL gives only the user,
   * password and TLS, and BullMQ keys take the prefix in braces (`{bulwark}:…`).
   */
  REDIS_CLUSTER_NODES: nodeList.optional(),
  /** Redis Sentinel: the sentinels, `host:port,…`; REDIS_URL then gives user, password, TLS and database. */
  REDIS_SENTINELS: nodeList.optional(),
  /** The master group name the sentinels monitor. Default: mymaster. */
  REDIS_SENTINEL_MASTER: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 letters, digits, ".", "_" or "-"')
    .default('mymaster'),
  /** Password of the sentinels, when they require one (the data nodes' is REDIS_URL's). Secret. */
  REDIS_SENTINEL_PASSWORD: z.string().min(1).max(512, 'must be at most 512 characters').optional(),
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
  /** When the nightly database backup runs (UTC); backup retention prunes right after it. Default: 01:00, "0 1 * * *". */
  BACKUP_CRON: cron.default('0 1 * * *'),
  /** When the restore drill runs (UTC): the newest backup restored into a scratch database. Default: Sundays 03:00, "0 3 * * 0". */
  RESTORE_DRILL_CRON: cron.default('0 3 * * 0'),
  /** Backup retention: newest backup of each of the N most recent UTC days that have one. Default: 7. */
  BACKUP_KEEP_DAILY: int(0, 3650).default(7),
  /** Backup retention: newest backup of each of the N most recent ISO weeks (UTC) that have one. Default: 4. */
  BACKUP_KEEP_WEEKLY: int(0, 520).default(4),
  /** Backup retention: newest backup of each of the N most recent UTC months that have one. Default: 12. */
  BACKUP_KEEP_MONTHLY: int(0, 1200).default(12),
  RETENTION_CRON: cron.default('0 2 * * *'),
  /**
   * Rows per batch (one transaction) and keys per batch (one multi-object delete, at most
   * 1,000, the S3 limit) of the retention job. Default: 5,000 rows, 1,000 keys.
   */
  RETENTION_BATCH_SIZE: int(1, 100000).optional(),
  /**
   * How long one class of one tenant may purge in one run, in ms; it stops at the first
   * batch boundary past it and the next run takes the rest. 0 stops after one batch. Default: 60000.
   */
  RETENTION_MAX_MS_PER_CLASS: int(0, 86_400_000).default(60000),
  /**
   * The canonical form of new audit entries written by the audit-write worker: 2 keeps
   * personal data apart so that it can be erased (docs/jobs/audit-write.md § Format 2),
   * 1 the form from before. Entries already written keep verifying either way; entries
   * Bulwark records inside its own transactions always use 2. Default: 2.
   */
  AUDIT_CHAIN_FORMAT: z.enum(['1', '2'], { error: 'must be 1 or 2' }).default('2'),
  /**
   * The Ed25519 private key that signs erasure records (docs/jobs/audit-write.md §
   * Erased entries): 32 bytes in base64 or base64url (`bulwark audit checkpoints
   * generate-key` makes one). Required by `bulwark subject erase`; verification checks
   * erasure records with its public key. Never logged or echoed. Default: none.
   */
  ERASURE_SIGNING_KEY: z
    .string()
    .refine(isCheckpointKey, 'must be 32 bytes in base64 or base64url (`bulwark audit checkpoints generate-key`)')
    .optional(),
  /**
   * Public keys of earlier erasure signing keys (rotation), comma-separated, each 32
   * bytes in base64 or base64url: erasure records they signed still verify. Default: none.
   */
  ERASURE_PUBLIC_KEYS: z
    .string()
    .refine(isPublicKeyList, 'must be comma-separated public keys, each 32 bytes in base64 or base64url')
    .optional(),
  /** Overrides the audit-write worker concurrency of the contract policy. */
  AUDIT_WRITE_CONCURRENCY: int(1, 1000).optional(),
  /** Most entries written in one group-commit transaction. Default: 2000. */
  AUDIT_BATCH_MAX: int(1, 10000).default(2000),
  /**
   * Most group-commit transactions a worker process runs at once, each for tenants no
   * other running one holds: a tenant's entry is written beside another's large batch,
   * not after it. Each takes a connection of DATABASE_POOL_SIZE. Default: 2.
   */
  AUDIT_COMMIT_LANES: int(1, 16).default(2),
  /**
   * Most audit entries one worker process holds between picking up their job and
   * their commit. Bounds memory when jobs carry many entries (200 running jobs of
   * 1,000 entries would otherwise all be parsed at once). Default: 4000.
   */
  AUDIT_ENTRIES_IN_FLIGHT: int(1, 100000).default(4000),
  /**
   * How far V8 lets the heap grow past what survived the last full garbage collection
   * before it runs the next one, in percent (V8's --heap-growing-percent), applied by
   * `bulwark start`. Left to itself V8 let a busy audit worker's old space reach about
   * four times its live data; 100 keeps it near twice. 0 leaves V8's own choice.
   * Default: 100.
   */
  HEAP_GROWING_PERCENT: int(0, 1000).default(100),
  /**
   * The API's producer charges audit-write and alert jobs to their tenants and parks a
   * tenant's backlog so it cannot delay the others (docs/decisions/0010). Workers always
   * release what is parked. Default: true.
   */
  FAIR_DISPATCH: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  /**
   * Audit entries released to the workers and not yet committed, across every worker
   * process: what a newly arriving tenant waits behind at most. About
   * four times AUDIT_ENTRIES_IN_FLIGHT per worker process. Default: 16000.
   */
  FAIR_AUDIT_WINDOW: int(1, 1_000_000).default(16000),
  /** Alert jobs released and not finished across every worker process. Default: 100. */
  FAIR_ALERT_WINDOW: int(1, 100_000).default(100),
  /** How often each worker process releases parked jobs besides on completions (rates refill). Default: 250 ms. */
  FAIR_TICK_MS: int(10, 60_000).default(250),
  /** How long running jobs may take to finish on SIGTERM, after the drain (SHUTDOWN_DRAIN_MS). Default: 10000 ms. */
  SHUTDOWN_TIMEOUT_MS: int(0, 600000).default(10000),
  /**
   * How long a stopping process keeps serving and working with /readyz failing
   * (`stopping`) before its workers stop taking jobs and its HTTP server closes, so load
   * balancers stop routing to it first. Comes before SHUTDOWN_TIMEOUT_MS, not out of it.
   * Default: 0 (no wait).
   */
  SHUTDOWN_DRAIN_MS: int(0, 60000).default(0),
  /**
   * The scheduler's lease in Redis: one process across every host schedules the repeatable
   * jobs; it renews the lease every third of this, and a standby takes over within this
   * after the holder dies. Default: 15000 ms.
   */
  SCHEDULER_LEASE_MS: int(1000, 600000).default(15000),
  /** BullMQ job lock; a crashed worker's jobs are retried after about this long. Default: 30000 ms. */
  WORKER_LOCK_DURATION_MS: int(1000, 600000).default(30000),
  /**
   * Master keys of the secrets store: "id:base64urlkey,id2:key2" (Fernet keys); the
   * first encrypts, all decrypt. Required by `start` and the secret commands.
   */
  MASTER_KEYS: z.string().optional(),
  /** When set, /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. Default: open. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Operator credentials (HTTP Basic) for Bull Board and tenant creation over HTTP. */
  OPERATOR_USERNAME: z.string().min(1).max(64).optional(),
  OPERATOR_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  /** Bull Board may retry/clean/promote jobs only when false; always read-only in live. Default: true. */
  BULL_BOARD_READ_ONLY: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  /** Comma-separated browser origins allowed by CORS. Default: none (CORS closed). */
  CORS_ORIGINS: z.string().optional(),
  /** Set when clients reach Bulwark over TLS (usually terminated at a proxy): adds HSTS. */
  TLS_ENABLED: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  /**
   * With TLS_ENABLED, the proxies whose X-Forwarded-For is believed: comma-separated IPs,
   * CIDRs, or `loopback`, `linklocal`, `uniquelocal`. Default: loopback. Anyone else's
   * header is ignored, so a client reaching the port directly cannot pick its address
   * (the abuse counters and audit entries key on it).
   */
  TRUSTED_PROXIES: z.string().default('loopback'),
  /** Largest accepted request body. Default: 1048576 (1 MiB). */
  API_BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024).default(1024 * 1024),
  /** How long an API key lookup is cached in memory; bounds how late a revocation bites. Default: 5000 ms. */
  API_KEY_CACHE_MS: int(0, 5000).default(5000),
  /** How long the HTTP API caches a tenant's settings (its request limit); a change applies within this. The alert worker reads the policy per alert. Default: 5000 ms. */
  SETTINGS_CACHE_MS: int(0, 60000).default(5000),
  /**
   * Longest the HTTP API waits on Redis for one command; past it, and at once while Redis
   * cannot be reached, the request is answered 503 with Retry-After. Default: 2000 ms.
   */
  API_REDIS_TIMEOUT_MS: int(100, 60000).default(2000),
  /**
   * While the database cannot be reached, API keys verified within this long are still
   * accepted from memory (ingest needs only Redis); 0 turns that off. A revocation written
   * just before an outage can go unseen for API_KEY_CACHE_MS plus at most this. Default: 900000 ms (15 min).
   */
  API_KEY_OUTAGE_GRACE_MS: int(0, 86_400_000).default(900_000),
  /** Base URL of the Telegram Bot API (a local stand-in in tests). Default: https://api.telegram.org */
  TELEGRAM_API_URL: url(['https:', 'http:']).default('https://api.telegram.org'),
  /** Time limit of one alert delivery HTTP request. Default: 10000 ms. */
  ALERT_HTTP_TIMEOUT_MS: int(100, 120000).default(10000),
  /**
   * Whether webhook and Slack channels may send to loopback, private, link-local and
   * other non-public addresses. Targets are chosen by tenants, so allowing them lets a
   * tenant make the workers send requests to internal hosts (SSRF). Default: false.
   */
  ALERT_TARGETS_ALLOW_PRIVATE: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  /**
   * Largest JSON body sent to a webhook channel; a larger message is fitted (items that
   * do not fit left out and counted). Default: 262144 (256 KiB).
   */
  WEBHOOK_MAX_BODY_BYTES: int(WEBHOOK_BODY_MAX_BYTES.min, WEBHOOK_BODY_MAX_BYTES.max).default(
    WEBHOOK_BODY_MAX_BYTES.default,
  ),
  /**
   * Where the runbooks are published, e.g. https://git.example.com/bulwark/blob/main/docs/runbooks.
   * Alerts Bulwark raises itself link to `<this>/<page>.md`. Default: none (no link,
   * because the alert contract only accepts absolute http(s) URLs).
   */
  RUNBOOK_BASE_URL: url(['https:', 'http:']).superRefine(refineRunbookBaseUrl).optional(),
  /**
   * Backup encryption keys: age identities (`AGE-SECRET-KEY-1…`, from `age-keygen`),
   * comma- or space-separated. The first encrypts new backups, all decrypt (rotation).
   * Required by backup and restore. Default: none.
   */
  BACKUP_KEYS: z
    .string()
    .refine(isBackupKeyList, 'must be age identities (AGE-SECRET-KEY-1…), comma- or space-separated')
    .optional(),
  /**
   * Keys that sign backup manifests (HMAC-SHA256), comma-separated, each at least 32
   * characters: the first signs, all verify. Required by backup and restore. Default: none.
   */
  BACKUP_SIGNING_KEY: z
    .string()
    .refine(isSigningKeyList, 'must be comma-separated keys of at least 32 characters each')
    .optional(),
  /**
   * The Ed25519 private key that signs the audit checkpoints written to the object store
   * with each verification (docs/audit-checkpoints.md): 32 bytes in base64 or base64url.
   * Unset: no checkpoints are written. Never logged or echoed.
   */
  AUDIT_CHECKPOINT_KEY: z
    .string()
    .refine(isCheckpointKey, 'must be 32 bytes in base64 or base64url (`bulwark audit checkpoints generate-key`)')
    .optional(),
  /**
   * Public keys of earlier checkpoint signing keys (rotation), comma-separated, each 32
   * bytes in base64 or base64url: checkpoints they signed still verify. Default: none.
   */
  AUDIT_CHECKPOINT_PUBLIC_KEYS: z
    .string()
    .refine(isPublicKeyList, 'must be comma-separated public keys, each 32 bytes in base64 or base64url')
    .optional(),
  /**
   * Where each checkpoint job also POSTs the checkpoints it wrote (a second place
   * beside the object store; docs/audit-checkpoints.md). May hold a token: never logged.
   * Default: none.
   */
  AUDIT_CHECKPOINT_WEBHOOK_URL: url(['https:', 'http:']).optional(),
  /** Size of one backup part before encryption, in MiB (two are held in memory at once). Default: 16. */
  BACKUP_PART_SIZE_MB: int(1, 64).default(16),
  /**
   * How long the presigned link to a subject export (docs/DATA_MANAGEMENT.md, data subject
   * rights) stays valid, in seconds, 60-3600: the bundle holds one person's data, and
   * links leak into mail and browser histories. Default: 900 (15 minutes).
   */
  PRIVACY_EXPORT_LINK_SECONDS: int(60, 3600).default(900),
  /**
   * The S3-protocol object store (MinIO in production, s3rver locally): scheme, host and
   * port only. https turns TLS on. Default: http://127.0.0.1:9000.
   */
  S3_ENDPOINT: s3Endpoint.default('http://127.0.0.1:9000'),
  /** Region the buckets are created in and requests are signed for. Default: us-east-1. */
  S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'must be 1-32 lowercase letters, digits or -')
    .default('us-east-1'),
  /** Access key of the object store. Default: S3RVER (the local stand-in's fixed pair; refused in live). */
  S3_ACCESS_KEY: z.string().min(3, 'must be at least 3 characters').max(128).default(S3RVER_KEY),
  /** Secret key of the object store. Default: S3RVER (refused in live). Never logged or echoed. */
  S3_SECRET_KEY: z.string().min(3, 'must be at least 3 characters').max(256).default(S3RVER_KEY),
  /** Bucket of tenant data (tenant/{id}/...). Default: bulwark. */
  S3_BUCKET: bucketName.default('bulwark'),
  /** Bucket of backups, kept apart from tenant data. Default: bulwark-backups. */
  S3_BACKUP_BUCKET: bucketName.default('bulwark-backups'),
});

type Env = z.infer<typeof envSchema>;

/** The validated, frozen configuration every factory receives. */
export interface Config {
  readonly env: Env['BULWARK_ENV'];
  readonly databaseUrl: string;
  /** DIRECT_DATABASE_URL, or DATABASE_URL when that is not set: migrations, backups, restores, drills. */
  readonly directDatabaseUrl: string;
  readonly databasePooler: (typeof DATABASE_POOLERS)[number];
  readonly databasePoolSize: number;
  readonly redisUrl: string;
  /** One server (REDIS_URL), a cluster (REDIS_CLUSTER_NODES) or Sentinel (REDIS_SENTINELS). */
  readonly redis: RedisTopology;
  readonly host: string;
  readonly port: number;
  readonly logLevel: Env['LOG_LEVEL'];
  /**
   * The prefix of BullMQ's keys: QUEUE_PREFIX, in braces with a cluster (`{bulwark}`) so
   * that every queue shares one hash slot (lib/redis-topology.ts). Keys that must sit
   * with the queues (a script or MULTI taking both) use it too.
   */
  readonly queuePrefix: string;
  /**
   * QUEUE_PREFIX as set, for Bulwark's own keys that carry a hash tag of their own (the
   * tenant's: alert decisions, channel pauses) or stand alone (the API's rate limits),
   * so that a cluster spreads them over its masters. Equal to queuePrefix without a cluster.
   */
  readonly keyPrefix: string;
  readonly auditVerifyCron: string;
  readonly backupCron: string;
  readonly restoreDrillCron: string;
  /** Backup retention (lib/backup/retention.ts): how many daily, weekly and monthly backups to keep. */
  readonly backupKeep: { readonly daily: number; readonly weekly: number; readonly monthly: number };
  /** When the daily retention run starts, in UTC (cron). Default: `0 2 * * *` (02:00 UTC). */
  readonly retentionCron: string;
  /** RETENTION_BATCH_SIZE: rows and keys (at most 1,000) per batch; undefined: 5,000 rows, 1,000 keys. */
  readonly retentionBatchSize: number | undefined;
  /** RETENTION_MAX_MS_PER_CLASS: time one class may take per tenant and run. */
  readonly retentionMaxMsPerClass: number;
  /** AUDIT_CHAIN_FORMAT: the canonical form new entries of the audit-write worker follow. */
  readonly auditChainFormat: 1 | 2;
  /** Raw ERASURE_SIGNING_KEY (Ed25519 seed); parsed by lib/privacy/erasure-keys.ts. Never log it. */
  readonly erasureSigningKey: string | undefined;
  /** Raw ERASURE_PUBLIC_KEYS (earlier keys' public halves). */
  readonly erasurePublicKeys: string | undefined;
  readonly auditWriteConcurrency: number | undefined;
  readonly auditBatchMax: number;
  readonly auditCommitLanes: number;
  readonly auditEntriesInFlight: number;
  readonly heapGrowingPercent: number;
  /** FAIR_DISPATCH, FAIR_AUDIT_WINDOW, FAIR_ALERT_WINDOW, FAIR_TICK_MS (docs/decisions/0010). */
  readonly fair: {
    readonly dispatch: boolean;
    readonly auditWindow: number;
    readonly alertWindow: number;
    readonly tickMs: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly shutdownDrainMs: number;
  readonly workerLockDurationMs: number;
  readonly schedulerLeaseMs: number;
  /** Raw MASTER_KEYS value; parsed by lib/crypto/master-keys.ts. Never log it. */
  readonly masterKeys: string | undefined;
  readonly metricsToken: string | undefined;
  readonly operator: { username: string; password: string } | undefined;
  readonly bullBoardReadOnly: boolean;
  readonly corsOrigins: readonly string[];
  readonly tlsEnabled: boolean;
  /** Fastify's trustProxy: false unless TLS_ENABLED, then TRUSTED_PROXIES. */
  readonly trustedProxies: readonly string[] | false;
  readonly apiBodyLimitBytes: number;
  readonly apiKeyCacheMs: number;
  readonly settingsCacheMs: number;
  readonly apiRedisTimeoutMs: number;
  readonly apiKeyOutageGraceMs: number;
  readonly telegramApiUrl: string;
  readonly alertHttpTimeoutMs: number;
  readonly webhookMaxBodyBytes: number;
  /** ALERT_TARGETS_ALLOW_PRIVATE: see lib/alerts/target-address.ts. */
  readonly alertTargetsAllowPrivate: boolean;
  /** Base URL of docs/runbooks as published, without a trailing slash; undefined when not set. */
  readonly runbookBaseUrl: string | undefined;
  /** Raw BACKUP_KEYS (age identities); parsed by lib/backup/keys.ts. Never log it. */
  readonly backupKeys: string | undefined;
  /** Raw BACKUP_SIGNING_KEY list; parsed by lib/backup/signing.ts. Never log it. */
  readonly backupSigningKeys: string | undefined;
  readonly backupPartSizeBytes: number;
  /** PRIVACY_EXPORT_LINK_SECONDS: the life of a subject export's presigned link. */
  readonly privacyExportLinkSeconds: number;
  /** Raw AUDIT_CHECKPOINT_KEY; parsed by lib/checkpoints/keys.ts. Never log it. */
  readonly auditCheckpointKey: string | undefined;
  /** Raw AUDIT_CHECKPOINT_PUBLIC_KEYS (earlier keys' public halves). */
  readonly auditCheckpointPublicKeys: string | undefined;
  /** AUDIT_CHECKPOINT_WEBHOOK_URL; may hold a token: never log it. */
  readonly auditCheckpointWebhookUrl: string | undefined;
  /** The object store (S3_*); lib/clients/storage.ts builds its client. `secretKey`: never log it. */
  readonly storage: StorageConfig;
}

/** Where the object store is and how to sign for it. */
export interface StorageConfig {
  /** Host name or address, without scheme or port. */
  readonly endPoint: string;
  readonly port: number;
  readonly useSSL: boolean;
  readonly region: string;
  readonly accessKey: string;
  /** Secret: never logged, never in an error. */
  readonly secretKey: string;
  /** Tenant data. */
  readonly bucket: string;
  readonly backupBucket: string;
  /** S3_ENDPOINT as given, without credentials (it can carry none): what errors name. */
  readonly endpointUrl: string;
}

/** Names of every variable loadConfig reads (the .env.example test checks this list). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

/**
 * The variables whose whole value is a secret (docs/configuration.md marks them "Secret."): never
 * logged, never echoed in a ConfigError, and listed in .env.example with no value.
 * DATABASE_URL and REDIS_URL may carry a password too; their defaults carry none.
 */
export const SECRET_VARIABLES = [
  'MASTER_KEYS',
  'METRICS_TOKEN',
  'OPERATOR_PASSWORD',
  'S3_SECRET_KEY',
  'BACKUP_KEYS',
  'BACKUP_SIGNING_KEY',
  'AUDIT_CHECKPOINT_KEY',
  'AUDIT_CHECKPOINT_WEBHOOK_URL',
  'ERASURE_SIGNING_KEY',
  'REDIS_SENTINEL_PASSWORD',
] as const satisfies ReadonlyArray<keyof Env>;

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
    : parsed.error.issues.map((i) => ({ path: String(i.path[0] ?? '(env)'), message: issueMessage(i) }));
  const invalid = new Set(problems.map((p) => p.path));
  // The cross-field rules are judged even when some variable is invalid, so one error
  // lists every problem: the invalid variables are parsed as if unset and the rules
  // that read them are skipped (lib/config-checks.ts). Each variable is validated on
  // its own, so the rest parses.
  const judged = parsed.success ? parsed : envSchema.safeParse(omit(input, invalid));
  if (judged.success)
    problems.push(...crossChecks(judged.data, { invalid, isSet: (name) => Object.hasOwn(input, name) }));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return Object.freeze({
    env: e.BULWARK_ENV,
    databaseUrl: e.DATABASE_URL,
    directDatabaseUrl: e.DIRECT_DATABASE_URL ?? e.DATABASE_URL,
    databasePooler: e.DATABASE_POOLER,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redisUrl: e.REDIS_URL,
    redis: Object.freeze(redisTopology(e)),
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    queuePrefix: queuePrefixFor(e.QUEUE_PREFIX, redisTopology(e)),
    keyPrefix: e.QUEUE_PREFIX,
    auditVerifyCron: e.AUDIT_VERIFY_CRON,
    backupCron: e.BACKUP_CRON,
    restoreDrillCron: e.RESTORE_DRILL_CRON,
    backupKeep: Object.freeze({
      daily: e.BACKUP_KEEP_DAILY,
      weekly: e.BACKUP_KEEP_WEEKLY,
      monthly: e.BACKUP_KEEP_MONTHLY,
    }),
    retentionCron: e.RETENTION_CRON,
    retentionBatchSize: e.RETENTION_BATCH_SIZE,
    retentionMaxMsPerClass: e.RETENTION_MAX_MS_PER_CLASS,
    auditChainFormat: e.AUDIT_CHAIN_FORMAT === '1' ? 1 : 2,
    erasureSigningKey: e.ERASURE_SIGNING_KEY,
    erasurePublicKeys: e.ERASURE_PUBLIC_KEYS,
    auditWriteConcurrency: e.AUDIT_WRITE_CONCURRENCY,
    auditBatchMax: e.AUDIT_BATCH_MAX,
    auditCommitLanes: e.AUDIT_COMMIT_LANES,
    auditEntriesInFlight: e.AUDIT_ENTRIES_IN_FLIGHT,
    heapGrowingPercent: e.HEAP_GROWING_PERCENT,
    fair: Object.freeze({
      dispatch: e.FAIR_DISPATCH === 'true',
      auditWindow: e.FAIR_AUDIT_WINDOW,
      alertWindow: e.FAIR_ALERT_WINDOW,
      tickMs: e.FAIR_TICK_MS,
    }),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    workerLockDurationMs: e.WORKER_LOCK_DURATION_MS,
    schedulerLeaseMs: e.SCHEDULER_LEASE_MS,
    masterKeys: e.MASTER_KEYS,
    metricsToken: e.METRICS_TOKEN,
    operator:
      e.OPERATOR_USERNAME && e.OPERATOR_PASSWORD
        ? { username: e.OPERATOR_USERNAME, password: e.OPERATOR_PASSWORD }
        : undefined,
    // Live never lets the dashboard change jobs, whatever the variable says.
    bullBoardReadOnly: e.BULWARK_ENV === 'live' || e.BULL_BOARD_READ_ONLY === 'true',
    corsOrigins: listOf(e.CORS_ORIGINS),
    tlsEnabled: e.TLS_ENABLED === 'true',
    trustedProxies: e.TLS_ENABLED === 'true' ? listOf(e.TRUSTED_PROXIES) : false,
    apiBodyLimitBytes: e.API_BODY_LIMIT_BYTES,
    apiKeyCacheMs: e.API_KEY_CACHE_MS,
    settingsCacheMs: e.SETTINGS_CACHE_MS,
    apiRedisTimeoutMs: e.API_REDIS_TIMEOUT_MS,
    apiKeyOutageGraceMs: e.API_KEY_OUTAGE_GRACE_MS,
    telegramApiUrl: e.TELEGRAM_API_URL,
    alertHttpTimeoutMs: e.ALERT_HTTP_TIMEOUT_MS,
    webhookMaxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
    alertTargetsAllowPrivate: e.ALERT_TARGETS_ALLOW_PRIVATE === 'true',
    runbookBaseUrl: e.RUNBOOK_BASE_URL?.replace(/\/+$/, ''),
    backupKeys: e.BACKUP_KEYS,
    backupSigningKeys: e.BACKUP_SIGNING_KEY,
    backupPartSizeBytes: e.BACKUP_PART_SIZE_MB * 1024 * 1024,
    privacyExportLinkSeconds: e.PRIVACY_EXPORT_LINK_SECONDS,
    auditCheckpointKey: e.AUDIT_CHECKPOINT_KEY,
    auditCheckpointPublicKeys: e.AUDIT_CHECKPOINT_PUBLIC_KEYS,
    auditCheckpointWebhookUrl: e.AUDIT_CHECKPOINT_WEBHOOK_URL,
    storage: Object.freeze(storageConfig(e)),
  });
}

function redisTopology(e: Env): RedisTopology {
  if (e.REDIS_CLUSTER_NODES) return { mode: 'cluster', nodes: Object.freeze(e.REDIS_CLUSTER_NODES) };
  if (e.REDIS_SENTINELS)
    return {
      mode: 'sentinel',
      sentinels: Object.freeze(e.REDIS_SENTINELS),
      masterName: e.REDIS_SENTINEL_MASTER,
      sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
    };
  return { mode: 'single' };
}

function storageConfig(e: Env): StorageConfig {
  const u = new URL(e.S3_ENDPOINT);
  const useSSL = u.protocol === 'https:';
  return {
    // URL keeps IPv6 brackets in hostname; the minio client wants the bare address.
    endPoint: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : useSSL ? 443 : 80,
    useSSL,
    region: e.S3_REGION,
    accessKey: e.S3_ACCESS_KEY,
    secretKey: e.S3_SECRET_KEY,
    bucket: e.S3_BUCKET,
    backupBucket: e.S3_BACKUP_BUCKET,
    endpointUrl: u.origin,
  };
}

const omit = (input: Record<string, string>, names: ReadonlySet<string>): Record<string, string> =>
  Object.fromEntries(Object.entries(input).filter(([k]) => !names.has(k)));

/** The master keys, or a ConfigError saying the command needs them. */
export function requireMasterKeys(config: Config): MasterKeys {
  if (!config.masterKeys) {
    throw new ConfigError([
      { path: 'MASTER_KEYS', message: 'is required here; generate one with `bulwark keys generate`' },
    ]);
  }
  return parseMasterKeys(config.masterKeys);
}
