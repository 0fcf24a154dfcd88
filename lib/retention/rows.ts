/**
 * Row classes: measuring what expired (for dry runs and receipts) and deleting it in
 * bounded batches. Audit entries leave only through audit_purge() (migration
 * 20261206500000), which checks the TTL and the holds itself and records the gaps the
 * chain verification steps over; the other classes are deleted here directly.
 */
import type { PrismaClient, TransactionClient } from '../clients/prisma.js';
import type { RowClass } from './classes.js';
import type { HoldCount } from './receipts.js';
import { ROW_CLASS_SQL, deletableWhere, holdCovers } from './row-classes.js';

export interface ClassMeasure {
  /** Expired and not held: what a run would delete. */
  count: number;
  oldest: Date | null;
  newest: Date | null;
  /** Expired but kept by a hold. */
  held: number;
  holds: HoldCount[];
  bytes?: number;
}

/** What a dry run and a receipt count: the expired, unheld rows of tenant $1 before $2, and their times. */
export function measureSql(cls: RowClass): string {
  const c = ROW_CLASS_SQL[cls];
  return `SELECT count(*)::int AS n, min(${c.time}) AS oldest, max(${c.time}) AS newest FROM ${c.from} WHERE ${deletableWhere(c)}`;
}

/**
 * One batch of a row class other than the audit ones: at most $3 expired, unheld rows of
 * tenant $1 before $2, oldest first, deleted, returning their digest ids and times. The
 * doomed ids are also given as an array: joined only, the planner (expecting $3 rows)
 * took a hash join over a sequential scan of the whole table for the DELETE; the array
 * makes it a primary-key lookup per row (test/integration/retention/secret-rotations-index.test.ts).
 */
export function rowBatchSql(cls: Exclude<RowClass, 'audit' | 'audit:security'>): string {
  const c = ROW_CLASS_SQL[cls];
  return `WITH doomed AS MATERIALIZED (SELECT a.id, ${c.id} AS rid, ${c.time} AS at FROM ${c.from} WHERE ${deletableWhere(c)} ORDER BY ${c.time} LIMIT $3)
     DELETE FROM ${c.table} t USING doomed d WHERE ${c.deleteKey} AND t.id = ANY (ARRAY(SELECT id FROM doomed))
     RETURNING d.rid AS id, d.at AS at`;
}

export async function measureRows(
  prisma: PrismaClient | TransactionClient,
  cls: RowClass,
  tenantId: string,
  cutoff: Date,
): Promise<ClassMeasure> {
  const c = ROW_CLASS_SQL[cls];
  const [go] = await prisma.$queryRawUnsafe<Array<{ n: number; oldest: Date | null; newest: Date | null }>>(
    measureSql(cls),
    tenantId,
    cutoff,
  );
  const [kept] = await prisma.$queryRawUnsafe<Array<{ n: number }>>(
    `SELECT count(*)::int AS n FROM ${c.from} WHERE ${c.tenant} AND ${c.expired} AND EXISTS (SELECT 1 FROM legal_holds h WHERE ${holdCovers(c)})`,
    tenantId,
    cutoff,
  );
  const holds = await prisma.$queryRawUnsafe<Array<{ id: string; kept: number }>>(
    `SELECT h.id::text AS id, count(*)::int AS kept FROM legal_holds h JOIN ${c.from} ON ${c.tenant} AND ${c.expired} WHERE ${holdCovers(c)} GROUP BY h.id ORDER BY h.id`,
    tenantId,
    cutoff,
  );
  return { count: go?.n ?? 0, oldest: go?.oldest ?? null, newest: go?.newest ?? null, held: kept?.n ?? 0, holds };
}

export interface DeletedRows {
  /** The digest's ids, oldest first (audit: hashes by seq). */
  ids: string[];
  /** Each row's time, or (audit) the oldest and newest only. */
  times: Date[];
  /** Audit: the first and last seq. */
  seqs?: bigint[];
}

/**
 * Delete at most `limit` expired, unheld rows of a class, oldest first, inside `tx`.
 * For audit classes this is a call of audit_purge(), tied to the running receipt.
 */
export async function deleteRowBatch(
  tx: TransactionClient,
  cls: RowClass,
  tenantId: string,
  cutoff: Date,
  limit: number,
  receiptId: string,
): Promise<DeletedRows> {
  if (cls === 'audit' || cls === 'audit:security') {
    // One row back, not one per entry: the hashes in seq order as one string of 64-character
    // pieces, and only the bounds the receipt keeps. Thousands of rows through the client's
    // result decoding held the worker's event loop (and its audit appends) for tens of ms.
    const [r] = await tx.$queryRawUnsafe<
      Array<{
        hashes: string | null;
        first: string | null;
        last: string | null;
        oldest: Date | null;
        newest: Date | null;
      }>
    >(
      `SELECT string_agg(p.hash::text, '' ORDER BY p.seq) AS hashes, min(p.seq)::text AS first, max(p.seq)::text AS last,
              min(p.occurred_at) AS oldest, max(p.occurred_at) AS newest
         FROM audit_purge($1::uuid, $2::uuid, $3::boolean, $4::timestamptz, $5::int) p`,
      tenantId,
      receiptId,
      cls === 'audit:security',
      cutoff,
      limit,
    );
    if (!r?.hashes) return { ids: [], times: [], seqs: [] };
    const ids: string[] = [];
    for (let i = 0; i < r.hashes.length; i += 64) ids.push(r.hashes.slice(i, i + 64));
    return { ids, times: [r.oldest!, r.newest!], seqs: [BigInt(r.first!), BigInt(r.last!)] };
  }
  const rows = await tx.$queryRawUnsafe<Array<{ id: string; at: Date }>>(rowBatchSql(cls), tenantId, cutoff, limit);
  // RETURNING gives no order: the digest takes the ids oldest first, then by id.
  rows.sort((x, y) => x.at.getTime() - y.at.getTime() || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return { ids: rows.map((r) => r.id), times: rows.map((r) => r.at) };
}
