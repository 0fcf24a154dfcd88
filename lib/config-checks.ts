/**
 * The configuration rules that read several variables, or need a parser of their own.
 * They run even when other variables are invalid, so one start-up error lists every
 * problem; only a rule whose own inputs are invalid is skipped (its verdict would be
 * about a value the user is about to change anyway).
 */
import { isIP } from 'node:net';
import { parseMasterKeys } from './crypto/master-keys.js';
import type { FieldProblem } from './errors.js';

/**
 * The parsed variables the rules read (a structural slice of config.ts's Env, declared
 * here so this module does not import config.ts, which imports it).
 */
export interface CheckedEnv {
  BULWARK_ENV: string;
  DATABASE_URL: string;
  DIRECT_DATABASE_URL?: string | undefined;
  DATABASE_POOLER: string;
  LOG_LEVEL: string;
  MASTER_KEYS?: string | undefined;
  OPERATOR_USERNAME?: string | undefined;
  OPERATOR_PASSWORD?: string | undefined;
  TRUSTED_PROXIES: string;
  CORS_ORIGINS?: string | undefined;
  S3_ACCESS_KEY: string;
  S3_SECRET_KEY: string;
  S3_BUCKET: string;
  S3_BACKUP_BUCKET: string;
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: unknown;
  REDIS_SENTINELS?: unknown;
  REDIS_SENTINEL_MASTER: string;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
}

/** What a rule may know about the input besides the parsed values. */
export interface CheckContext {
  /** Variables that failed their own validation; their value in `e` is the default. */
  readonly invalid: ReadonlySet<string>;
  /** Whether the variable was set at all (non-empty), valid or not. */
  readonly isSet: (name: keyof CheckedEnv) => boolean;
}

export function crossChecks(e: CheckedEnv, { invalid, isSet }: CheckContext): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const judgeable = (...names: Array<keyof CheckedEnv>) => names.every((n) => !invalid.has(n));
  if (
    judgeable('BULWARK_ENV', 'LOG_LEVEL') &&
    e.BULWARK_ENV === 'live' &&
    (e.LOG_LEVEL === 'debug' || e.LOG_LEVEL === 'trace')
  ) {
    problems.push({ path: 'LOG_LEVEL', message: 'debug and trace are refused in live (they can log payloads)' });
  }
  if (e.MASTER_KEYS !== undefined) {
    try {
      parseMasterKeys(e.MASTER_KEYS);
    } catch (err) {
      // parseMasterKeys never puts key material in its messages.
      problems.push({ path: 'MASTER_KEYS', message: (err as Error).message.replace(/^MASTER_KEYS /, '') });
    }
  }
  // Judged on presence, which an invalid value does not hide: a too-short password set
  // without a username is two mistakes, and the user should hear of both at once.
  if (isSet('OPERATOR_USERNAME') !== isSet('OPERATOR_PASSWORD')) {
    problems.push({
      path: isSet('OPERATOR_USERNAME') ? 'OPERATOR_PASSWORD' : 'OPERATOR_USERNAME',
      message: 'OPERATOR_USERNAME and OPERATOR_PASSWORD must be set together',
    });
  }
  for (const proxy of listOf(e.TRUSTED_PROXIES)) {
    if (!isProxyAddress(proxy))
      problems.push({
        path: 'TRUSTED_PROXIES',
        message: `"${proxy}" is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`,
      });
  }
  for (const origin of listOf(e.CORS_ORIGINS)) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin))
      problems.push({ path: 'CORS_ORIGINS', message: `"${origin}" is not an origin like https://app.example.com` });
  }
  // The local stand-in's published pair would let anyone on the network read every
  // tenant's objects and backups. Judged on what was set, so an invalid key is not
  // reported twice; the message never repeats the value.
  if (judgeable('BULWARK_ENV') && e.BULWARK_ENV === 'live') {
    if (!invalid.has('S3_ACCESS_KEY') && e.S3_ACCESS_KEY === 'S3RVER')
      problems.push({
        path: 'S3_ACCESS_KEY',
        message: "the local stand-in default is refused in live; set the store's own access key",
      });
    if (!invalid.has('S3_SECRET_KEY') && e.S3_SECRET_KEY === 'S3RVER')
      problems.push({
        path: 'S3_SECRET_KEY',
        message: "the local stand-in default is refused in live; set the store's own secret key",
      });
  }
  problems.push(...poolerChecks(e, judgeable));
  // Backups in the tenant bucket would be copied into themselves by the objects backup,
  // and a tenant-prefix interface could reach them.
  if (judgeable('S3_BUCKET', 'S3_BACKUP_BUCKET') && e.S3_BUCKET === e.S3_BACKUP_BUCKET) {
    problems.push({
      path: 'S3_BACKUP_BUCKET',
      message: 'must differ from S3_BUCKET (backups are kept apart from tenant data)',
    });
  }
  problems.push(...redisChecks(e, { invalid, isSet }));
  return problems;
}

/** One Redis topology at a time, and what a cluster cannot do. */
function redisChecks(e: CheckedEnv, { invalid, isSet }: CheckContext): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (isSet('REDIS_CLUSTER_NODES') && isSet('REDIS_SENTINELS'))
    problems.push({
      path: 'REDIS_SENTINELS',
      message: 'cannot be set with REDIS_CLUSTER_NODES: Bulwark speaks to a cluster or to Sentinel, not both',
    });
  if (isSet('REDIS_CLUSTER_NODES') && !invalid.has('REDIS_URL') && !/^\/?0?$/.test(new URL(e.REDIS_URL).pathname))
    problems.push({
      path: 'REDIS_URL',
      message: 'names a database other than 0, which a Redis Cluster does not have: drop the /N from it',
    });
  for (const name of ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD'] as const)
    if (isSet(name) && !isSet('REDIS_SENTINELS'))
      problems.push({ path: name, message: 'is used only with REDIS_SENTINELS, which is not set' });
  return problems;
}

/**
 * PgBouncer in transaction pooling mode gives each transaction whichever server session is
 * free: what needs a session of its own (migrations under their advisory lock, pg_dump and
 * its snapshot, CREATE DATABASE for drills) must go direct (docs/going-to-production.md).
 */
function poolerChecks(e: CheckedEnv, judgeable: (...names: Array<keyof CheckedEnv>) => boolean): FieldProblem[] {
  if (!judgeable('DATABASE_URL', 'DIRECT_DATABASE_URL', 'DATABASE_POOLER')) return [];
  const problems: FieldProblem[] = [];
  const pooled = e.DATABASE_POOLER === 'pgbouncer';
  if (pooled && e.DIRECT_DATABASE_URL === undefined)
    problems.push({
      path: 'DIRECT_DATABASE_URL',
      message:
        'is required with DATABASE_POOLER=pgbouncer: migrations, backups and restore drills need a direct connection to Postgres',
    });
  else if (pooled && e.DIRECT_DATABASE_URL === e.DATABASE_URL)
    problems.push({
      path: 'DIRECT_DATABASE_URL',
      message: 'must lead to Postgres itself, not to the same address as DATABASE_URL (the pooler)',
    });
  // Prisma's own flag does nothing with the pg adapter: the pooler is named here instead.
  if (!pooled && /[?&]pgbouncer=true(&|$)/i.test(e.DATABASE_URL))
    problems.push({
      path: 'DATABASE_POOLER',
      message: "must be pgbouncer when DATABASE_URL says pgbouncer=true (Prisma's flag is not read here)",
    });
  return problems;
}

export const listOf = (value: string | undefined): string[] =>
  value
    ?.split(',')
    .map((v) => v.trim())
    .filter(Boolean) ?? [];

/** What proxy-addr (Fastify's trustProxy) accepts: an address, a CIDR, or a named range. */
function isProxyAddress(value: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  // /0 would trust every address, which proxy-addr refuses anyway.
  return (
    bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) >= 1 && Number(bits) <= (family === 4 ? 32 : 128))
  );
}
