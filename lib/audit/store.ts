/**
 * Writing a batch of entries to the chain in one transaction. Chain heads of the
 * tenants involved are locked in tenant-id order (so concurrent writers in several
 * processes never deadlock), entries already stored under their eventId are reported
 * as duplicates, and the rest go in with one multi-row INSERT ... SELECT FROM unnest.
 */
import type pg from 'pg';
import type { TransactionClient } from '../clients/prisma.js';

import { personalFieldsFor, type OptionalPersonalField } from '../privacy/fields.js';
import { hashCanonical, joinCanonical } from './chain.js';
import { CHAIN_COLUMNS, STATIC_COLUMNS, arrayElement, arrayLiteral, encodeEntry, type EncodedEntry } from './encode.js';
import { PD_MEMBERS, PD_TYPES } from './personal.js';

export type CommitOutcome =
  { status: 'written'; seq: string } | { status: 'duplicate'; seq: string } | { status: 'unknown_tenant' };

interface HeadRow {
  tenant_id: string;
  last_seq: string;
  last_hash: string;
  /** The tenant's privacy.personalFields setting (format 2 splits by it). */
  pf: OptionalPersonalField[] | null;
}

const key = (tenantId: string, eventId: string) => `${tenantId}\u0000${eventId}`;

const COLUMNS = [...STATIC_COLUMNS.map(([column, type]) => [column, type] as const), ...CHAIN_COLUMNS];

// Every column travels as one array literal in a text parameter (see encode.ts).
const INSERT_SQL = `INSERT INTO audit_log (${COLUMNS.map((c) => c[0]).join(', ')})
SELECT ${COLUMNS.map((c, i) => `u.c${i}::${c[1]}`).join(', ')}
  FROM unnest(${COLUMNS.map((_c, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${COLUMNS.map((_c, i) => `c${i}`).join(', ')})`;

/** audit_personal_data's columns in insert order: tenant_id, seq, salt, then PD_MEMBERS. */
const PD_COLUMNS: ReadonlyArray<[string, string]> = [
  ['tenant_id', 'uuid'],
  ['seq', 'bigint'],
  ['salt', 'text'],
  ...PD_MEMBERS.map(([c]): [string, string] => [c, PD_TYPES[c]!]),
];
const PD_INSERT_SQL = `INSERT INTO audit_personal_data (${PD_COLUMNS.map((c) => c[0]).join(', ')})
SELECT ${PD_COLUMNS.map((c, i) => `u.c${i}::${c[1]}`).join(', ')}
  FROM unnest(${PD_COLUMNS.map((_c, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${PD_COLUMNS.map((_c, i) => `c${i}`).join(', ')})`;

/**
 * Commit `entries` (any tenants, any order) and return one outcome per entry, in order.
 * @param now clock for recorded_at; injectable for tests.
 * @param statementTimeoutMs limit of each statement of the transaction, a positive
 *   whole number of ms. Default: COMMIT_STATEMENT_TIMEOUT_MS (30 000).
 */
export async function commitEntries(
  pool: pg.Pool,
  entries: EncodedEntry[],
  now: () => Date = () => new Date(),
  statementTimeoutMs = COMMIT_STATEMENT_TIMEOUT_MS,
): Promise<CommitOutcome[]> {
  if (!Number.isSafeInteger(statementTimeoutMs) || statementTimeoutMs < 1)
    throw new RangeError(`statementTimeoutMs must be a positive whole number (got ${statementTimeoutMs})`);
  // Optimistic first: skip the lookup of already stored eventIds and let the unique
  // index (tenant_id, event_id) object. Stored duplicates only come from retries and
  // repeated sends, and the lookup was about a tenth of every transaction. When the
  // index objects, the whole transaction is rolled back and done again with the lookup.
  try {
    return await commitOnce(pool, entries, now, false, statementTimeoutMs);
  } catch (err) {
    if (!isStoredDuplicate(err)) throw err;
    return commitOnce(pool, entries, now, true, statementTimeoutMs);
  }
}

const EVENT_ID_KEY = 'audit_log_tenant_id_event_id_key';

/** Longest any statement of a group-commit transaction may run; a timeout is transient (57014) and the jobs retry. */
export const COMMIT_STATEMENT_TIMEOUT_MS = 30_000;

function isStoredDuplicate(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === EVENT_ID_KEY;
}

async function commitOnce(
  pool: pg.Pool,
  entries: EncodedEntry[],
  now: () => Date,
  lookUpStored: boolean,
  statementTimeoutMs: number,
): Promise<CommitOutcome[]> {
  // The hot path talks to node-postgres directly (the same pool Prisma runs on):
  // Prisma's parameter handling doubled the time of a 2,000-row unnest insert.
  // A connection killed mid-transaction rejects the running query (the jobs retry); the
  // 'error' the client emits as well is caught by the listener createPgPool gives every
  // client (lib/db/connection-loss.ts), so it cannot take the process down.
  const client = await pool.connect();
  let failed = false;
  try {
    // One round trip: the transaction and its time limit (it holds the chain heads' locks).
    await client.query(`BEGIN; SET LOCAL statement_timeout = ${statementTimeoutMs}`);
    const outcomes = await appendEntries(pgSql(client), entries, now, { lookUpStored });
    await client.query('COMMIT');
    return outcomes;
  } catch (err) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    // A connection that failed mid-transaction is discarded, not reused.
    client.release(failed ? true : undefined);
  }
}

/** The little SQL surface appendEntries needs, over Prisma or node-postgres. */
export interface Sql {
  query<T>(sql: string, params: unknown[]): Promise<T[]>;
  execute(sql: string, params: unknown[]): Promise<void>;
}

export function prismaSql(tx: TransactionClient): Sql {
  return {
    query: <T>(sql: string, params: unknown[]) => tx.$queryRawUnsafe<T[]>(sql, ...params),
    execute: async (sql, params) => void (await tx.$executeRawUnsafe(sql, ...params)),
  };
}

function pgSql(client: pg.PoolClient): Sql {
  return {
    query: async <T>(sql: string, params: unknown[]) => (await client.query(sql, params)).rows as T[],
    execute: async (sql, params) => void (await client.query(sql, params)),
  };
}

/**
 * The same, inside a transaction the caller owns: used where an audit entry must
 * commit or roll back together with the change it records (tenant bootstrap,
 * secret and key operations, settings changes).
 */
export async function appendEntries(
  tx: Sql,
  encoded: EncodedEntry[],
  now: () => Date = () => new Date(),
  /**
   * lookUpStored (default true): find entries already stored under their eventId and
   * report them as duplicates. False leaves that to the unique index (the caller must
   * then retry with true when it objects); only commitEntries does that.
   */
  options: { lookUpStored?: boolean } = {},
): Promise<CommitOutcome[]> {
  const tenants = [...new Set(encoded.map((x) => x.entry.tenantId))].sort();
  const heads = await tx.query<HeadRow>(
    `SELECT h.tenant_id::text, h.last_seq::text, h.last_hash, s.settings #> '{privacy,personalFields}' AS pf
       FROM audit_chain_heads h LEFT JOIN tenant_settings s ON s.tenant_id = h.tenant_id
      WHERE h.tenant_id = ANY($1::uuid[]) ORDER BY h.tenant_id FOR UPDATE OF h`,
    [tenants],
  );
  const headByTenant = new Map(heads.map((h) => [h.tenant_id, { seq: BigInt(h.last_seq), hash: h.last_hash }]));
  // Format 2 splits by the tenant's personal fields, read here under the head's lock;
  // entries encoded by other fields (a tenant with additions: rare) are encoded again.
  const fieldsByTenant = new Map(
    heads.map((h) => [
      h.tenant_id,
      personalFieldsFor({ privacy: { personalFields: Array.isArray(h.pf) ? h.pf : [] } }),
    ]),
  );
  encoded = encoded.map((x) => {
    const fields = fieldsByTenant.get(x.entry.tenantId);
    return x.format === 2 && fields && !sameFields(fields, x.fields) ? encodeEntry(x.source, { format: 2, fields }) : x;
  });
  const entries = encoded.map((x) => x.entry);
  const known = entries.filter((e) => headByTenant.has(e.tenantId));
  const existing = new Map<string, string>();
  if (known.length > 0 && options.lookUpStored !== false) {
    const rows = await tx.query<{ tenant_id: string; event_id: string; seq: string }>(
      `SELECT a.tenant_id::text, a.event_id, a.seq::text FROM audit_log a
         JOIN unnest($1::uuid[], $2::text[]) AS k(tenant_id, event_id)
           ON a.tenant_id = k.tenant_id AND a.event_id = k.event_id`,
      [known.map((e) => e.tenantId), known.map((e) => e.eventId)],
    );
    for (const r of rows) existing.set(key(r.tenant_id, r.event_id), r.seq);
  }
  const recordedAt = now().toISOString();
  const recordedAtCell = arrayElement(recordedAt);
  const outcomes: CommitOutcome[] = [];
  const columns: string[][] = COLUMNS.map(() => []);
  const pdColumns: string[][] = PD_COLUMNS.map(() => []);
  const chainAt = STATIC_COLUMNS.length;
  for (const x of encoded) {
    const e = x.entry;
    const head = headByTenant.get(e.tenantId);
    if (!head) {
      outcomes.push({ status: 'unknown_tenant' });
      continue;
    }
    const k = key(e.tenantId, e.eventId);
    const stored = existing.get(k);
    if (stored !== undefined) {
      outcomes.push({ status: 'duplicate', seq: stored });
      continue;
    }
    const seq = String(head.seq + 1n);
    const hash = hashCanonical(joinCanonical(x.canonical, recordedAt, seq), head.hash);
    for (let i = 0; i < chainAt; i++) columns[i]!.push(x.cells[i]!);
    // Digits and hex need no quoting in an array literal.
    columns[chainAt]!.push(seq);
    columns[chainAt + 1]!.push(recordedAtCell);
    columns[chainAt + 2]!.push(head.hash);
    columns[chainAt + 3]!.push(hash);
    if (x.personalCells) {
      pdColumns[0]!.push(x.cells[0]!);
      pdColumns[1]!.push(seq);
      for (let i = 0; i < x.personalCells.length; i++) pdColumns[i + 2]!.push(x.personalCells[i]!);
    }
    head.seq += 1n;
    head.hash = hash;
    existing.set(k, seq);
    outcomes.push({ status: 'written', seq });
  }
  if (columns[0]!.length > 0) {
    await tx.execute(INSERT_SQL, columns.map(arrayLiteral));
    if (pdColumns[0]!.length > 0) await tx.execute(PD_INSERT_SQL, pdColumns.map(arrayLiteral));
    const moved = tenants.filter((t) => headByTenant.has(t));
    await tx.execute(
      `UPDATE audit_chain_heads h SET last_seq = v.seq, last_hash = v.hash, updated_at = now()
         FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS v(tenant_id, seq, hash)
        WHERE h.tenant_id = v.tenant_id AND h.last_seq <> v.seq`,
      [moved, moved.map((t) => String(headByTenant.get(t)!.seq)), moved.map((t) => headByTenant.get(t)!.hash)],
    );
  }
  return outcomes;
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((f, i) => f === b[i]));
}
