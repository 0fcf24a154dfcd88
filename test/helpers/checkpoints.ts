/**
 * Checkpoint test harness: a fresh database with tenants (created `createdHoursAgo`
 * hours back, so past hours count as scheduled), a real s3rver with its buckets, a TCP
 * proxy in front of it (to make the store unreachable), a signing key, and the
 * AppContext the checkpoint job and verification take.
 */
import { createContext } from '../../app/main.js';
import type { AppContext } from '../../lib/context.js';
import { ensureBuckets, createStorage, type Storage } from '../../lib/clients/storage.js';
import { generateSigningKey, parseSigningKey, type CheckpointSigner } from '../../lib/checkpoints/keys.js';
import { createTenant } from '../../lib/tenants/tenants.js';
import { createTestDatabase, superuserQuery, type TestDatabase } from './db.js';
import { captureLogs, testConfig } from './env.js';
import { startS3Server, type S3Server } from './s3.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { addAuditEntries } from './backup.js';

export interface CheckpointHarness {
  db: TestDatabase;
  s3: S3Server;
  /** In front of s3; block() makes the store unreachable for contexts made with `viaProxy`. */
  proxy: TcpProxy;
  key: string;
  signer: CheckpointSigner;
  /** Every variable a CLI child or a Bulwark needs for this database, store and key. */
  env: Record<string, string>;
  ctx: AppContext;
  logs: ReturnType<typeof captureLogs>;
  tenants: string[];
  /** A context of its own (close it), optionally through the proxy, with config overrides. */
  context(o?: { viaProxy?: boolean; env?: Record<string, string> }): AppContext;
  addEntries(tenantId: string, n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCheckpointHarness(
  o: { tenants?: number; entries?: number; createdHoursAgo?: number } = {},
): Promise<CheckpointHarness> {
  const db = await createTestDatabase('bulwark_cp');
  const s3 = await startS3Server();
  const proxy = await startTcpProxy('127.0.0.1', Number(new URL(s3.endpoint).port));
  const key = generateSigningKey();
  const env: Record<string, string> = { ...s3.env, DATABASE_URL: db.url, AUDIT_CHECKPOINT_KEY: key };
  const logs = captureLogs();
  const opened: AppContext[] = [];
  const context = (c: { viaProxy?: boolean; env?: Record<string, string> } = {}) => {
    const config = testConfig(db.url, {
      ...env,
      ...(c.viaProxy ? { S3_ENDPOINT: `http://127.0.0.1:${proxy.port}` } : {}),
      ...c.env,
    });
    env.QUEUE_PREFIX ??= config.queuePrefix;
    const ctx = createContext(config, { logDestination: logs.stream });
    opened.push(ctx);
    return ctx;
  };
  const ctx = context();
  await ensureBuckets(ctx.storage);
  const tenants: string[] = [];
  for (let i = 0; i < (o.tenants ?? 2); i++)
    tenants.push((await createTenant(ctx.prisma, { name: `cp-${i}-${Math.random().toString(36).slice(2, 8)}` })).id);
  for (const t of tenants) await addAuditEntries(db.url, t, o.entries ?? 20);
  if (o.createdHoursAgo)
    await superuserQuery(db.url, `UPDATE tenants SET created_at = now() - make_interval(hours => $1)`, [
      o.createdHoursAgo,
    ]);
  return {
    db,
    s3,
    proxy,
    key,
    signer: parseSigningKey(key),
    env,
    ctx,
    logs,
    tenants,
    context,
    addEntries: (tenantId, n) => addAuditEntries(db.url, tenantId, n),
    async close() {
      for (const c of opened) {
        await c.prisma.$disconnect().catch(() => undefined);
        await c.pg.end().catch(() => undefined);
        c.redis.disconnect();
      }
      await proxy.close();
      await s3.stop();
      await db.drop();
    },
  };
}

/** Every checkpoint object's key in the store, sorted. */
export async function storedCheckpointKeys(storage: Storage): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of storage.client.listObjectsV2(storage.bucket, 'checkpoints/', true) as AsyncIterable<{
    name?: string;
  }>)
    if (item.name) keys.push(item.name);
  return keys.sort();
}

/** An object's bytes. */
export async function objectBytes(storage: Storage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of (await storage.client.getObject(storage.bucket, key)) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Put bytes at a key, as someone with write access to the bucket would. */
export async function putBytes(storage: Storage, key: string, body: Buffer): Promise<void> {
  await storage.client.putObject(storage.bucket, key, body, body.length);
}

export { createStorage };
