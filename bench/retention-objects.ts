/**
 * The object half of bench:retention, on an s3rver of its own: one tenant with
 * BENCH_OBJECTS objects of class snapshots/raw (default 100,000), of which
 * BENCH_OBJECT_EXPIRED_PCT (1%) lie in a day past the 30-day TTL and the rest are spread
 * over the 29 live days. Each of BENCH_ROUNDS rounds (3) puts a fresh expired day for
 * Bulwark and for two raw loops, then times, alternating:
 *   - raw, list + delete: list the expired day's prefix, removeObjects per 1,000 keys;
 *   - raw, delete only: removeObjects per 1,000 keys already known (no listing at all);
 *   - the floor (floorObjects below): what issue 17 requires of the run at minimum, raw
 *     minio and pg clients only, on Bulwark's tenant (the same 99% live keys after
 *     the expired ones; its own expired day, put before it and gone when Bulwark's is
 *     put): find the expired keys without listing the live ones, and record each
 *     batch in the receipt before deleting it;
 *   - Bulwark: runTenantRetention for the class (period listing, receipt, batches).
 * Reports deletes/s and their ratio to each raw loop (target >= 0.8) and to the floor,
 * and keys listed per key deleted (target <= 1.1): every key the store returned to
 * Bulwark, the probe that ends each class's search included.
 */
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
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

/**
 * The floor of one object class's run, raw clients only (nothing of Bulwark): one INSERT
 * opens the receipt; the class is listed in key order from its start (keys sort by
 * period, so the expired ones come first), a page of up to 1,000 keys, and after a
 * full page of expired keys the next page is first probed with one key so that no page
 * of live keys is listed (the keys-listed-per-key-deleted bound); the listing
 * stops at the first key of a live period. Each batch (one page) is recorded by one
 * UPDATE of the receipt before its removeObjects (count, bytes, the SHA-256 chain over
 * its keys, and the key range as pending, which is all a resumed run needs to finish
 * it: the keys of that range still there), and one UPDATE closes the receipt. A lower
 * bound: it writes the receipt once per batch where Bulwark writes it twice, takes
 * s3rver's 500 on a delete that empties a folder as done (as the raw loops do), reads
 * no settings or holds and writes no retention:purged entry.
 */
async function floorObjects(
  storage: Storage,
  db: pg.Client,
  tenantId: string,
  base: string,
  cutoff: Date,
  round: number,
): Promise<{ deleted: number; listed: number; requests: number }> {
  const cutoffPeriod = cutoff.toISOString().slice(0, 10);
  const receipt = randomUUID();
  await db.query(
    `INSERT INTO retention_receipts (id, run_id, tenant_id, class, status, ttl_days, cutoff, policy, updated_at)
     VALUES ($1, $2, $3, 'objects:snapshots-raw', 'running', 30, $4, '{}', now())`,
    [receipt, `floor-${round}`, tenantId, cutoff],
  );
  let digest = '0'.repeat(64);
  let deleted = 0;
  let listed = 0;
  let requests = 0;
  let after = '';
  let want = 1000;
  let carry: Array<{ name: string; size: number }> = [];
  for (;;) {
    const page = await storage.client.listObjectsV2Query(storage.bucket, base, '', '', want, after);
    requests++;
    const objects = (page.objects as Array<{ name?: string; size?: number }>).filter(
      (o): o is { name: string; size: number } => typeof o.name === 'string',
    );
    listed += objects.length;
    let live = false;
    const batch = carry;
    carry = [];
    for (const o of objects) {
      if (o.name.slice(base.length, base.length + 10) >= cutoffPeriod) {
        live = true;
        break;
      }
      batch.push(o);
    }
    const from = after;
    if (objects.length) after = objects[objects.length - 1]!.name;
    const more = !live && page.isTruncated;
    if (more && want === 1) {
      // The probe found an expired key: list the rest of a full batch after it.
      carry = batch;
      want = 1000 - batch.length;
      continue;
    }
    if (batch.length) {
      for (const o of batch) digest = createHash('sha256').update(digest, 'ascii').update(o.name, 'utf8').digest('hex');
      await db.query(
        `UPDATE retention_receipts SET deleted = deleted + $2, bytes = bytes + $3, digest = $4, pending = $5::jsonb, updated_at = now() WHERE id = $1`,
        [
          receipt,
          batch.length,
          batch.reduce((n, o) => n + (o.size ?? 0), 0),
          digest,
          JSON.stringify({ after: from, last: batch[batch.length - 1]!.name }),
        ],
      );
      requests++;
      try {
        await storage.client.removeObjects(
          storage.bucket,
          batch.map((o) => o.name),
        );
      } catch {
        // s3rver's 500 after deleting, as in removeAll
      }
      deleted += batch.length;
    }
    if (!more) break;
    want = 1;
  }
  await db.query(
    `UPDATE retention_receipts SET status = 'done', finished_at = now(), pending = NULL, updated_at = now() WHERE id = $1`,
    [receipt],
  );
  return { deleted, listed, requests };
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
  const raw = new pg.Client({ connectionString: db.url });
  await raw.connect();
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
    const rawList: number[] = [];
    const rawKnown: number[] = [];
    const floor: number[] = [];
    const mine: number[] = [];
    const stats = newListingStats();
    const floorStats = { listed: 0, deleted: 0, requests: 0 };
    let deleted = 0;
    await raw.query('SELECT 1');
    for (let round = 0; round < ROUNDS; round++) {
      const day = 40 + round;
      const rawKeys = await put(storage, rawTenant, day, expired);
      const known = await put(storage, rawTenant, day + 100, expired);
      const floorKeys = await put(storage, tenant, day + 10, expired);
      const base = floorKeys[0]!.slice(0, floorKeys[0]!.lastIndexOf('/', floorKeys[0]!.lastIndexOf('/') - 1) + 1);
      rawList.push(
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
      floor.push(
        await timed(async () => {
          const f = await floorObjects(storage, raw, tenant, base, new Date(Date.now() - 30 * DAY_MS), round);
          floorStats.listed += f.listed;
          floorStats.deleted += f.deleted;
          floorStats.requests += f.requests;
          return f.deleted;
        }),
      );
      await put(storage, tenant, day, expired);
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
    const ratio = median(mine) / median(rawList);
    const ratioKnown = median(mine) / median(rawKnown);
    const floorRatio = median(floor) / median(rawList);
    const perKey = stats.keysListed / deleted;
    log(`  raw list + removeObjects   ${fmtInt(median(rawList))} deletes/s (median of ${ROUNDS})`);
    log(`  raw removeObjects only     ${fmtInt(median(rawKnown))} deletes/s (keys known, nothing listed)`);
    log(
      `  floor                      ${fmtInt(median(floor))} deletes/s  (class listed from its start, receipt UPDATE per batch before removeObjects; ${floorStats.listed} keys listed for ${floorStats.deleted} deleted, ${floorStats.requests} store requests; raw clients)  floor/raw ${floorRatio.toFixed(2)}`,
    );
    log(
      `  Bulwark purge              ${fmtInt(median(mine))} deletes/s  ratio ${ratio.toFixed(2)} to list + remove, ${ratioKnown.toFixed(2)} to remove only (target >= 0.8); Bulwark/floor ${(median(mine) / median(floor)).toFixed(2)}`,
    );
    if (floorRatio < 0.8)
      log(`  the target is out of reach here: the required parts alone reach ${floorRatio.toFixed(2)} of the raw loop`);
    log(
      `  keys listed per key deleted ${perKey.toFixed(3)} (${stats.keysListed} keys listed, ${deleted} deleted, ${live} live never listed; target <= 1.1); ${stats.requests} store requests`,
    );
    return ratio >= 0.8 && perKey <= 1.1;
  } finally {
    await raw.end();
    await prisma.$disconnect();
    await db.drop();
    await s3.stop();
  }
}
