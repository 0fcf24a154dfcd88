/**
 * Bench entries: realistic audit entries (a few hundred bytes, JSON before/after and
 * metadata, one in ten from an AI actor) spread round-robin over the bench tenants,
 * and the same entries as stored, chained rows for the raw INSERT baseline.
 */
import { randomUUID } from 'node:crypto';
import { GENESIS_HASH, canonicalJsonFields, chainHash, type ChainEntry } from '../lib/audit/chain.js';
import { STATIC_COLUMNS } from '../lib/audit/encode.js';
import { prepareEntry } from '../lib/audit/entry.js';
import type { AuditEntry } from '../lib/contracts/audit.js';

export function benchEntry(tenants: readonly string[], i: number): AuditEntry {
  const ai = i % 10 === 9;
  return {
    tenantId: tenants[i % tenants.length]!,
    eventId: randomUUID(),
    occurredAt: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
    actorType: ai ? 'ai' : 'user',
    actorId: `user-${i % 997}`,
    action: 'task:completed',
    resourceType: 'task',
    resourceId: `task-${i}`,
    before: { status: 'open', assignee: `user-${i % 31}`, priority: 2 },
    after: { status: 'done', assignee: `user-${i % 31}`, priority: 2, completedAt: '2026-01-01T00:00:00.000Z' },
    metadata: { source: 'bench', attempt: 1, tags: ['bench', 'audit'] },
    ...(ai ? { reason: 'closed as duplicate of an older task', confidence: 0.93 } : {}),
    requestId: `req-${i}`,
    ip: '10.1.2.3',
    userAgent: 'bulwark-bench/1.0',
  };
}

/** Columns of audit_log in the order lib/audit/store.ts writes them (shared column list, plain values). */
export const ROW_COLUMNS: ReadonlyArray<
  [column: string, type: string, pick: (e: ChainEntry, hash: string, prev: string) => string | null]
> = [
  ...STATIC_COLUMNS.map(([column, type, pick]): [string, string, (e: ChainEntry) => string | null] => [
    column,
    type,
    (e) => pick(e, canonicalJsonFields(e)),
  ]),
  ['seq', 'bigint', (e) => e.seq],
  ['recorded_at', 'timestamptz', (e) => e.recordedAt],
  ['prev_hash', 'text', (_e, _h, prev) => prev],
  ['hash', 'text', (_e, hash) => hash],
];

export function unnestInsertSql(table: string): string {
  const cols = ROW_COLUMNS.map((c) => c[0]).join(', ');
  const casts = ROW_COLUMNS.map((c, i) => `u.c${i}::${c[1]}`).join(', ');
  const arrays = ROW_COLUMNS.map((_c, i) => `$${i + 1}::text[]`).join(', ');
  const names = ROW_COLUMNS.map((_c, i) => `c${i}`).join(', ');
  return `INSERT INTO ${table} (${cols}) SELECT ${casts} FROM unnest(${arrays}) AS u(${names})`;
}

/**
 * `count` entries as chained rows (seq from 1 per tenant, hashes precomputed), cut into
 * statements of `perStatement` rows, each a list of column arrays for unnestInsertSql.
 */
export function chainedColumnBatches(
  tenants: readonly string[],
  count: number,
  perStatement: number,
): Array<Array<Array<string | null>>> {
  const heads = new Map(tenants.map((t) => [t, { seq: 0n, hash: GENESIS_HASH }]));
  const recordedAt = new Date().toISOString();
  const batches: Array<Array<Array<string | null>>> = [];
  let current: Array<Array<string | null>> = [];
  for (let i = 0; i < count; i++) {
    if (i % perStatement === 0) {
      current = ROW_COLUMNS.map(() => []);
      batches.push(current);
    }
    const prepared = prepareEntry(benchEntry(tenants, i));
    const head = heads.get(prepared.tenantId)!;
    head.seq += 1n;
    const entry: ChainEntry = { ...prepared, seq: String(head.seq), recordedAt };
    const hash = chainHash(entry, head.hash);
    ROW_COLUMNS.forEach((c, k) => current[k]!.push(c[2](entry, hash, head.hash)));
    head.hash = hash;
  }
  return batches;
}
