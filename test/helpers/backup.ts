/**
 * Backup test harness: a fresh database with tenants and audit chains, a real s3rver,
 * Redis, and the BackupContext the lib/backup functions take. Plus a checksum of every
 * table's rows, for round trips.
 */
import { createHash, randomBytes } from 'node:crypto';
import { generateIdentity } from 'age-encryption';
import { Redis } from 'ioredis';
import pg from 'pg';
import { encodeEntry } from '../../lib/audit/encode.js';
import { prepareEntry } from '../../lib/audit/entry.js';
import { commitEntries } from '../../lib/audit/store.js';
import type { BackupContext } from '../../lib/backup/context.js';
import { createPgPool, createPrisma } from '../../lib/clients/prisma.js';
import { createStorage, ensureBuckets } from '../../lib/clients/storage.js';
import type { Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { objectKey } from '../../lib/storage/keys.js';
import { createTenant } from '../../lib/tenants/tenants.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from './db.js';
import { REDIS_URL, captureLogs, testConfig } from './env.js';
import { startS3Server } from './s3.js';

export interface BackupHarness {
  db: TestDatabase;
  s3: Awaited<ReturnType<typeof startS3Server>>;
  redis: Redis;
  config: Config;
  /** The variables a CLI or worker child needs for the same database, store and keys. */
  env: Record<string, string>;
  ctx: BackupContext;
  logs: ReturnType<typeof captureLogs>;
  tenants: string[];
  /** Another context on the same store and database with other config (e.g. keys). */
  withConfig(overrides: Record<string, string>): BackupContext;
  close(): Promise<void>;
}

export async function newBackupKey(): Promise<string> {
  return generateIdentity();
}

/** Add `n` audit entries to a tenant's chain. */
export async function addAuditEntries(
  url: string,
  tenantId: string,
  n: number,
  tag = randomBytes(3).toString('hex'),
): Promise<void> {
  const pool = createPgPool({ databaseUrl: url }, 2);
  try {
    for (let i = 0; i < n; i += 500) {
      const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) =>
        encodeEntry(
          prepareEntry({
            tenantId,
            eventId: `e-${tag}-${i + j}`,
            occurredAt: new Date().toISOString(),
            actorType: 'user',
            actorId: `u${j}`,
            action: 'task:completed',
            resourceType: 'task',
            resourceId: `t${i + j}`,
            after: { n: i + j, pad: 'x'.repeat(40) },
          }),
        ),
      );
      await commitEntries(pool, batch);
    }
  } finally {
    await pool.end();
  }
}

export async function startBackupHarness(
  o: { tenants?: number; entries?: number; env?: Record<string, string> } = {},
): Promise<BackupHarness> {
  const db = await createTestDatabase('bulwark_bk');
  const s3 = await startS3Server();
  const env: Record<string, string> = {
    ...s3.env,
    DATABASE_URL: db.url,
    REDIS_URL,
    BACKUP_KEYS: await newBackupKey(),
    BACKUP_SIGNING_KEY: randomBytes(32).toString('base64'),
    BACKUP_PART_SIZE_MB: '1',
    ...o.env,
  };
  const logs = captureLogs();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const make = (overrides: Record<string, string>): { config: Config; ctx: BackupContext } => {
    const config = testConfig(db.url, { ...env, ...overrides });
    env.QUEUE_PREFIX ??= config.queuePrefix;
    const storage = createStorage(config.storage);
    return { config, ctx: { config, storage, redis, logger: createLogger(config, logs.stream) } };
  };
  const { config, ctx } = make({});
  await ensureBuckets(createStorage(config.storage));
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 1 });
  const tenants: string[] = [];
  try {
    for (let i = 0; i < (o.tenants ?? 2); i++)
      tenants.push((await createTenant(prisma, { name: `bk-${i}-${randomBytes(2).toString('hex')}` })).id);
  } finally {
    await prisma.$disconnect();
  }
  for (const t of tenants) await addAuditEntries(db.url, t, o.entries ?? 50);
  return {
    db,
    s3,
    redis,
    config,
    env,
    ctx,
    logs,
    tenants,
    withConfig: (overrides) => make(overrides).ctx,
    async close() {
      redis.disconnect();
      await s3.stop();
      await db.drop();
    },
  };
}

/** Every table of a database with its row count and a checksum of its rows (in a fixed order). */
export async function tableChecksums(url: string): Promise<Record<string, string>> {
  const tables = (
    await superuserQuery(url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
  ).rows.map((r) => r.tablename as string);
  const out: Record<string, string> = {};
  for (const t of tables) {
    const id = pg.escapeIdentifier(t);
    const r = await superuserQuery(
      url,
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(x.r, E'\\n' ORDER BY x.r), '')) AS sum FROM (SELECT t::text AS r FROM ${id} t) x`,
    );
    out[t] = `${r.rows[0].n}:${r.rows[0].sum}`;
  }
  return out;
}

/** Put `n` objects of a tenant into the tenant bucket (sizes cycling through `sizes`); returns key → SHA-256. */
export async function putTenantObjects(
  ctx: BackupContext,
  tenantId: string,
  n: number,
  sizes: readonly number[] = [0, 1, 700, 70_000],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const at = new Date('2026-12-01T10:00:00Z');
  for (let i = 0; i < n; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, n - i) }, async (_, j) => {
        const k = i + j;
        const body = randomBytes(sizes[k % sizes.length]!);
        const cls = k % 3 === 0 ? 'reports' : 'snapshots/raw';
        const key = objectKey({ tenantId, class: cls, at, id: `o${k}-${randomBytes(3).toString('hex')}` });
        await ctx.storage.client.putObject(ctx.storage.bucket, key, body, body.length, {
          'Content-Type': cls === 'reports' ? 'application/pdf' : 'image/jpeg',
        });
        out.set(key, createHash('sha256').update(body).digest('hex'));
      }),
    );
  }
  return out;
}

/** key → SHA-256 of every object under a prefix of a bucket. */
export async function objectDigests(ctx: BackupContext, bucket: string, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const keys: string[] = [];
  for await (const item of ctx.storage.client.listObjectsV2(bucket, prefix, true) as AsyncIterable<{ name?: string }>)
    if (item.name) keys.push(item.name);
  for (const key of keys) {
    const hash = createHash('sha256');
    for await (const c of await ctx.storage.client.getObject(bucket, key)) hash.update(c as Buffer);
    out.set(key.slice(prefix.length), hash.digest('hex'));
  }
  return out;
}
