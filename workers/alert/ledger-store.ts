/**
 * The ledger's statements, batched across concurrently running alert jobs (batcher.ts):
 * receipts as one multi-row INSERT, changes as one UPDATE ... FROM unnest(...). On
 * node-postgres directly (the pool Prisma's adapter also uses): with Prisma's per-query
 * overhead and one statement per row, the ledger was most of an alert's CPU.
 */
import type pg from 'pg';
import type { Alert } from '../../lib/contracts/alert.js';
import { createBatcher } from './batcher.js';

export type LedgerOutcome = 'received' | 'delivering' | 'delivered' | 'suppressed' | 'grouped' | 'deferred' | 'failed';

export interface LedgerChange {
  outcome: LedgerOutcome;
  reason?: string;
  groupId?: string;
  deferUntil?: Date;
  channel?: string;
  channelType?: string;
  attempts?: number;
  status?: number;
  error?: string;
  deliveredAt?: Date;
}

export interface LedgerStore {
  /** Insert the row as received; false when it already existed (a retried job). */
  insertReceived(alert: Alert, receivedAt: Date): Promise<boolean>;
  /** What an existing row says (read only when insertReceived returned false). */
  outcomeOf(id: string): Promise<{ outcome: string; reason: string | null }>;
  /** Apply a change to these rows; fields left out keep their values. */
  apply(ids: string[], change: LedgerChange): Promise<void>;
}

type Db = Pick<pg.Pool, 'query'>;
const MAX_BATCH = 200;
/** Batches of one kind in the database at once (the pool has 10 connections). */
const IN_FLIGHT = 3;

const INSERT = `INSERT INTO alert_ledger (id, tenant_id, type, severity, title, body, labels, runbook_url, group_key, user_id, occurred_at, received_at, outcome)
SELECT r.*, 'received' FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[]) AS r
ON CONFLICT (id) DO NOTHING RETURNING id`;

// Every field of a change is non-null when given, so NULL in the batch means "keep".
const UPDATE = `UPDATE alert_ledger l SET
  outcome = u.outcome,
  reason = COALESCE(u.reason, l.reason),
  group_id = COALESCE(u.group_id, l.group_id),
  defer_until = COALESCE(u.defer_until, l.defer_until),
  channel = COALESCE(u.channel, l.channel),
  attempts = COALESCE(u.attempts, l.attempts),
  last_status = COALESCE(u.status, l.last_status),
  last_error = COALESCE(u.error, l.last_error),
  delivered_at = COALESCE(u.delivered_at, l.delivered_at),
  delivery_ms = CASE WHEN u.delivered_at IS NULL THEN l.delivery_ms
    ELSE GREATEST(0, (EXTRACT(EPOCH FROM (u.delivered_at::timestamptz(3) - l.received_at)) * 1000)::int) END
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::text[], $7::int[], $8::int[], $9::text[], $10::timestamptz[])
  AS u(id, outcome, reason, group_id, defer_until, channel, attempts, status, error, delivered_at)
WHERE l.id = u.id`;

type Receipt = { alert: Alert; receivedAt: Date };
type Change = { ids: string[]; change: LedgerChange };

async function insertBatch(db: Db, items: Receipt[]): Promise<boolean[]> {
  const col = <T>(f: (r: Receipt) => T) => items.map(f);
  const res = await db.query<{ id: string }>(INSERT, [
    col((r) => r.alert.id),
    col((r) => r.alert.tenantId),
    col((r) => r.alert.type),
    col((r) => r.alert.severity),
    col((r) => r.alert.title),
    col((r) => r.alert.body ?? null),
    col((r) => (r.alert.labels === undefined ? null : JSON.stringify(r.alert.labels))),
    col((r) => r.alert.runbookUrl ?? null),
    col((r) => r.alert.groupKey ?? r.alert.type),
    col((r) => r.alert.userId ?? null),
    col((r) => new Date(r.alert.occurredAt)),
    col((r) => r.receivedAt),
  ]);
  const inserted = new Set(res.rows.map((r) => r.id));
  return items.map((r) => inserted.has(r.alert.id));
}

async function updateBatch(db: Db, items: Change[]): Promise<void[]> {
  const rows = items.flatMap(({ ids, change }) => ids.map((id) => ({ id, c: change })));
  const col = <T>(f: (r: { id: string; c: LedgerChange }) => T) => rows.map(f);
  await db.query(UPDATE, [
    col((r) => r.id),
    col((r) => r.c.outcome),
    col((r) => r.c.reason ?? null),
    col((r) => r.c.groupId || null),
    col((r) => r.c.deferUntil ?? null),
    col((r) => r.c.channel || null),
    col((r) => r.c.attempts ?? null),
    col((r) => r.c.status ?? null),
    col((r) => (r.c.error === undefined ? null : r.c.error.slice(0, 500))),
    col((r) => r.c.deliveredAt ?? null),
  ]);
  return items.map(() => undefined);
}

export function createLedgerStore(db: Db): LedgerStore {
  const insert = createBatcher<Receipt, boolean>({ maxBatch: MAX_BATCH, maxInFlight: IN_FLIGHT, run: (items) => insertBatch(db, items) });
  const update = createBatcher<Change, void>({
    maxBatch: MAX_BATCH,
    maxInFlight: IN_FLIGHT,
    run: (items) => updateBatch(db, items),
    // Two changes of one row go in order, in separate statements.
    conflicts: (a, b) => a.ids.some((id) => b.ids.includes(id)),
  });
  return {
    insertReceived: (alert, receivedAt) => insert({ alert, receivedAt }),
    async outcomeOf(id) {
      const res = await db.query<{ outcome: string; reason: string | null }>('SELECT outcome, reason FROM alert_ledger WHERE id = $1', [id]);
      return res.rows[0] ?? { outcome: 'received', reason: null };
    },
    apply: (ids, change) => update({ ids, change }),
  };
}
