/**
 * The object half of bench:retention, on an s3rver of its own: one tenant with
 * BENCH_OBJECTS objects of class snapshots/raw (default 100,000), of which
 * BENCH_OBJECT_EXPIRED_PCT (1%) lie in a day past the 30-day TTL and the rest are spread
 * over the 29 live days. Each of BENCH_ROUNDS rounds (3) puts a fresh expired day for
 * Bulwark and for two raw loops, then times, alternating:
 *   - raw, list + delete: list the expired day's prefix, removeObjects per 1,000 keys;
 *   - raw, delete only: removeObjects per 1,000 keys already known (no listing at all);
 *   - Bulwark: runTenantRetention for the class (period listing, receipt, batches).
 * Reports deletes/s and their ratio to each raw loop (target >= 0.8), and keys listed
 * per key deleted (target <= 1.1): every key the store returned to Bulwark, the probe
 * that ends each class's search included.
 */
import { randomUUID } from 'node:crypto';
import { createPrisma } from '../lib/clients/prisma.js';
import { createStorage, ensureBuckets, type Storage } from '../lib/clients/storage.js';
import { loadConfig } from '../lib/config.js';
import { newListingStats } from '../lib/retention/object-store.js';
import { runTenantRetention } from '../lib/retention/run.js';
import { objectKey } from '../lib/storage/keys.js';
import { createTenant } from '../lib/tenants/tenants.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { startS3Server } from '../test/helpers/s3.js';
import { envInt, fmtInt, log, pool } from './util.js';

const OBJECTS = envInt('BENCH_OBJECTS', 100_000);
const EXPIRED_PCT = envInt('BENCH_OBJECT_EXPIRED_PCT', 1);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const PUT_CONCURRENCY = envInt('BENCH_PUT_CONCURRENCY', 16);
const DAY_MS = 86_400_000;
const BODY = Buffer.alloc(256, 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function put(storage: Storage, tenantId: string, days: number, n: number): Promise<string[]> {
  const at = new Date(Date.now() - days * DAY_MS);
  const keys = Array.from({ length: n }, () => objectKey({ tenantId, class: 'snapshots/raw', at, id: randomUUID() }));
  await pool(n, PUT_CONCURRENCY, (i) => storage.client.putObject(storage.bucket, keys[i]!, BODY, BODY.length));
  return keys.sort();
}

/** removeObjects per 1,000 keys; s3rver's 500 on a delete that empties a folder (after deleting) is ignored, as a raw loop would. */
async function removeAll(storage: Storage, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    try {
      await storage.client.removeObjects(storage.bucket, keys.slice(i, i + 1000));
    } catch {
      // counted as done: the keys are gone
    }
  }
}

async function timed(fn: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  const n = await fn();
  return (n * 1000) / (performance.now() - t0);
}

export async function benchObjects(): Promise<boolean> {
  const s3 = await startS3Server();
  const storage = createStorage(loadConfig(s3.env).storage);
  const db = await createTestDatabase('bench_ret_obj');
  const prisma = createPrisma({ databaseUrl: db.url }, { max: 2 });
  try {
    await ensureBuckets(storage);
    const tenant = (await createTenant(prisma, { name: 'bench-objects' })).id; // (also warms the client)
    const rawTenant = randomUUID();
    const expired = Math.max(1, Math.round((OBJECTS * EXPIRED_PCT) / 100));
    const live = OBJECTS - expired;
    const started = Date.now();
    for (let d = 0; d < 29; d++) await put(storage, tenant, d, Math.floor(live / 29) + (d < live % 29 ? 1 : 0));
    log(
      `objects: ${fmtInt(live).trim()} live objects put in ${((Date.now() - started) / 1000).toFixed(0)} s; ${expired} expire per round, ${ROUNDS} rounds`,
    );
    const raw: number[] = [];
    const rawKnown: number[] = [];
    const mine: number[] = [];
    const stats = newListingStats();
    let deleted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const day = 40 + round;
      const rawKeys = await put(storage, rawTenant, day, expired);
      const known = await put(storage, rawTenant, day + 100, expired);
      await put(storage, tenant, day, expired);
      raw.push(
        await timed(async () => {
          const keys: string[] = [];
          const prefix = rawKeys[0]!.slice(0, rawKeys[0]!.lastIndexOf('/') + 1);
          for await (const o of storage.client.listObjectsV2(storage.bucket, prefix, true) as AsyncIterable<{
            name?: string;
          }>)
            if (o.name) keys.push(o.name);
          await removeAll(storage, keys);
          return keys.length;
        }),
      );
      rawKnown.push(
        await timed(async () => {
          await removeAll(storage, known);
          return known.length;
        }),
      );
      mine.push(
        await timed(async () => {
          const [o] = await runTenantRetention(prisma, tenant, {
            store: storage,
            classes: ['objects:snapshots-raw'],
            listing: stats,
          });
          deleted += o!.deleted;
          return o!.deleted;
        }),
      );
    }
    const ratio = median(mine) / median(raw);
    const ratioKnown = median(mine) / median(rawKnown);
    const perKey = stats.keysListed / deleted;
    log(`  raw list + removeObjects   ${fmtInt(median(raw))} deletes/s (median of ${ROUNDS})`);
    log(`  raw removeObjects only     ${fmtInt(median(rawKnown))} deletes/s (keys known, nothing listed)`);
    log(
      `  Bulwark purge              ${fmtInt(median(mine))} deletes/s  ratio ${ratio.toFixed(2)} to list + remove, ${ratioKnown.toFixed(2)} to remove only (target >= 0.8)`,
    );
    log(
      `  keys listed per key deleted ${perKey.toFixed(3)} (${stats.keysListed} keys listed, ${deleted} deleted, ${live} live never listed; target <= 1.1); ${stats.requests} store requests`,
    );
    return ratio >= 0.8 && perKey <= 1.1;
  } finally {
    await prisma.$disconnect();
    await db.drop();
    await s3.stop();
  }
}
