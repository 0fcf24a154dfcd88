/**
 * Data for bench:backup: audit entries written through the real append path (chained,
 * so a restore's chain walk has real work and passes), about 1 KB each with a random
 * hex pad that compresses about 2:1 like real JSON does, until the database reaches a
 * size; tenant objects of one size; and the audit write latency sampler.
 */
import { randomBytes } from 'node:crypto';
import { encodeEntry } from '../lib/audit/encode.js';
import { prepareEntry } from '../lib/audit/entry.js';
import { commitEntries } from '../lib/audit/store.js';
import type { BackupContext } from '../lib/backup/context.js';
import { createPgPool } from '../lib/clients/prisma.js';
import { objectKey } from '../lib/storage/keys.js';

type Pool = ReturnType<typeof createPgPool>;

const entry = (tenantId: string, tag: string, i: number) =>
  encodeEntry(
    prepareEntry({
      tenantId,
      eventId: `b-${tag}-${i}`,
      occurredAt: new Date().toISOString(),
      actorType: 'user',
      actorId: `u${i % 97}`,
      action: 'task:completed',
      resourceType: 'task',
      resourceId: `t${i}`,
      after: { n: i, pad: randomBytes(300).toString('hex') },
    }),
  );

export async function databaseMb(pool: Pool): Promise<number> {
  const r = await pool.query<{ s: string }>('SELECT pg_database_size(current_database())::text AS s');
  return Number(r.rows[0]!.s) / 1e6;
}

/** Append chained entries (500 a transaction, one tenant per lane) until the database is `mb` MB. */
export async function growAuditTo(url: string, tenants: readonly string[], mb: number): Promise<number> {
  const pool = createPgPool({ databaseUrl: url }, 3);
  const tag = randomBytes(3).toString('hex');
  try {
    let size = await databaseMb(pool);
    let n = 0;
    while (size < mb) {
      // Two lanes of different tenants (their chain heads never contend), 20 batches between size checks.
      await Promise.all(
        tenants.slice(0, 2).map(async (t) => {
          for (let b = 0; b < 10; b++) {
            const start = n;
            n += 500;
            await commitEntries(
              pool,
              Array.from({ length: 500 }, (_, j) => entry(t, tag, start + j)),
            );
          }
        }),
      );
      size = await databaseMb(pool);
      process.stderr.write(`\r  database ${size.toFixed(0)} MB of ${mb}   `);
    }
    process.stderr.write('\n');
    return size;
  } finally {
    await pool.end();
  }
}

/** Put objects of `bytes` each into the tenant bucket, spread over the tenants, until `totalMb`. */
export async function putObjects(
  ctx: BackupContext,
  tenants: readonly string[],
  totalMb: number,
  bytes: number,
): Promise<{ count: number; bytes: number }> {
  const count = Math.max(1, Math.ceil((totalMb * 1e6) / bytes));
  const at = new Date('2026-12-01T10:00:00Z');
  for (let i = 0; i < count; i += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, count - i) }, async (_, j) => {
        const body = randomBytes(bytes);
        const key = objectKey({
          tenantId: tenants[(i + j) % tenants.length]!,
          class: 'snapshots/raw',
          at,
          id: `b${i + j}`,
        });
        await ctx.storage.client.putObject(ctx.storage.bucket, key, body, body.length);
      }),
    );
  }
  return { count, bytes: count * bytes };
}

export const percentile = (sorted: readonly number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;

/**
 * One audit entry committed at a time (its own transaction, as a lone audit write is)
 * until `until` resolves or `ms` passes; returns each commit's latency in ms, sorted.
 */
export async function auditLatencies(url: string, tenantId: string, o: { ms?: number; until?: Promise<unknown> }) {
  const pool = createPgPool({ databaseUrl: url }, 1);
  const tag = randomBytes(3).toString('hex');
  const out: number[] = [];
  let stop = false;
  o.until?.then(
    () => (stop = true),
    () => (stop = true),
  );
  const deadline = o.ms === undefined ? Infinity : Date.now() + o.ms;
  try {
    for (let i = 0; !stop && Date.now() < deadline; i++) {
      const t = performance.now();
      await commitEntries(pool, [entry(tenantId, tag, i)]);
      out.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20)); // about 40 writes a second, not a flood
    }
  } finally {
    await pool.end();
  }
  return out.sort((a, b) => a - b);
}
