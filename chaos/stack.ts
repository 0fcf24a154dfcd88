/**
 * The system under test: a private Redis (AOF on) and Postgres, migrated, and one
 * `bulwark start` on them (a second one on demand), with two tenants whose admin keys
 * carry the load. Everything lives in one temporary folder, removed at the end unless
 * CHAOS_KEEP=1 (logs of Bulwark, Redis and Postgres are there).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { AUDIT_WRITE_QUEUE } from '../lib/contracts/audit.js';
import { fairKeys } from '../lib/fair/kinds.js';
import { generateFernetKey } from '../lib/crypto/fernet.js';
import { bulwarkCommand, createBulwarkProcess, type BulwarkProcess } from './bulwark.js';
import { startPrivatePostgres, type PrivatePostgres } from './services/postgres.js';
import { startPrivateRedis, type PrivateRedis } from './services/redis.js';
import { freePort } from './services/process.js';

const OPERATOR = { user: 'chaos-operator', password: `op-${randomBytes(12).toString('hex')}` };
const DATABASE = 'bulwark';

export interface Stack {
  dir: string;
  redis: PrivateRedis;
  postgres: PrivatePostgres;
  env: Record<string, string>;
  primary: BulwarkProcess;
  /** A second `bulwark start` on the same Redis, database and queues (started on demand). */
  second: BulwarkProcess;
  /** Admin keys of the two tenants. */
  keys: string[];
  databaseUrl: string;
  /** Run `fn` with a fresh connection to the private database (it may have been restarted). */
  withDb<T>(fn: (db: pg.Client) => Promise<T>): Promise<T>;
  /** audit-write jobs not finished (waiting, active, delayed), and failed ones. */
  /** Jobs not yet done: BullMQ's, and (fairHeld, included in pending) those fair dispatch holds. */
  queueCounts(): Promise<{ pending: number; failed: number; fairHeld: number }>;
  /** `bulwark audit verify`: undefined when every chain verified, else its output. */
  verifyChains(): Promise<string | undefined>;
  destroy(): Promise<void>;
}

export async function startStack(options: { lockDurationMs?: number } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-chaos-'));
  const redis = await startPrivateRedis();
  const postgres = await startPrivatePostgres();
  const databaseUrl = postgres.url(DATABASE);
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    HOST: '127.0.0.1',
    QUEUE_PREFIX: 'chaos',
    LOG_LEVEL: 'warn',
    MASTER_KEYS: `chaos1:${generateFernetKey()}`,
    OPERATOR_USERNAME: OPERATOR.user,
    OPERATOR_PASSWORD: OPERATOR.password,
    ...(options.lockDurationMs ? { WORKER_LOCK_DURATION_MS: String(options.lockDurationMs) } : {}),
  };
  await bulwarkCommand(['migrate'], env, dir);
  const proc = async (name: string) =>
    createBulwarkProcess({ name, port: await freePort(), env, cwd: dir, logFile: join(dir, `${name}.log`) });
  const primary = await proc('bulwark-a');
  const second = await proc('bulwark-b');
  await primary.start();
  const keys: string[] = [];
  for (const name of ['chaos-tenant-1', 'chaos-tenant-2']) keys.push(await createTenant(primary.url, name));

  const withDb = async <T>(fn: (db: pg.Client) => Promise<T>): Promise<T> => {
    const db = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
    db.on('error', () => undefined);
    await db.connect();
    try {
      return await fn(db);
    } finally {
      await db.end().catch(() => undefined);
    }
  };
  const connection = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  connection.on('error', () => undefined);
  const queue = new Queue(AUDIT_WRITE_QUEUE, { connection, prefix: env.QUEUE_PREFIX! });
  queue.on('error', () => undefined);
  return {
    dir,
    redis,
    postgres,
    env,
    primary,
    second,
    keys,
    databaseUrl,
    withDb,
    async queueCounts() {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed');
      // Jobs fair dispatch still holds count too: parked ones, and claimed ones not yet in
      // BullMQ (an admitted job whose add met a Redis restart goes once its claim is stale).
      const fair = fairKeys(env.QUEUE_PREFIX!, AUDIT_WRITE_QUEUE);
      const [parked, claimed] = await Promise.all([connection.zcard(fair[0]!), connection.zcard(fair[10]!)]);
      return {
        pending:
          (c.waiting ?? 0) +
          (c.active ?? 0) +
          (c.delayed ?? 0) +
          (c.prioritized ?? 0) +
          (c['waiting-children'] ?? 0) +
          parked +
          claimed,
        failed: c.failed ?? 0,
        fairHeld: parked + claimed,
      };
    },
    async verifyChains() {
      return bulwarkCommand(['audit', 'verify'], env, dir).then(
        () => undefined,
        (err: Error) => err.message.slice(0, 400),
      );
    },
    async destroy() {
      await second.stop().catch(() => undefined);
      await primary.stop().catch(() => undefined);
      await queue.close().catch(() => undefined);
      connection.disconnect();
      await redis.destroy();
      await postgres.destroy();
      if (process.env.CHAOS_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A tenant made over HTTP as the operator, its API limit raised past the load: its admin key. */
async function createTenant(url: string, name: string): Promise<string> {
  const basic = `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}`;
  const res = await fetch(`${url}/v1/tenants`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`creating tenant ${name}: ${res.status} ${await res.text()}`);
  const key = ((await res.json()) as { adminKey: { key: string } }).adminKey.key;
  const patch = await fetch(`${url}/v1/settings`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ api: { requestsPerWindow: 1_000_000, windowSeconds: 60 } }),
  });
  if (patch.status !== 200) throw new Error(`raising ${name}'s API limit: ${patch.status} ${await patch.text()}`);
  return key;
}
