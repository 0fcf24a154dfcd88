/**
 * The ledger's statements on the hot path, batched across concurrently running alert
 * jobs (batcher.ts) into ONE statement per batch, on node-postgres directly (the pool
 * Prisma's adapter also uses): new rows as a multi-row INSERT, changes as one UPDATE ...
 * FROM unnest(...), and, for each new alert, its tenant's channels for its severity
 * (read with the receipt: most decisions are `deliver` and need them). One round trip
 * and one commit per batch instead of Prisma's several queries per alert, which were
 * most of an alert's CPU.
 */
import type pg from 'pg';
import type { Alert } from '../../lib/contracts/alert.js';
import { createBatcher } from './batcher.js';
import { channelKeyParams, channelsForKeysSql, type ChannelRaw, type ChannelRow } from './channel-store.js';

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

/** What a job run again needs to know of its row to redo what follows its decision. */
export interface RowState {
  outcome: string;
  reason: string | null;
  groupId: string | null;
  deferUntil: Date | null;
}

export interface Receipt {
  /** False when the row already existed (a retried job). */
  inserted: boolean;
  /** The tenant's enabled channels for the alert's severity, read with the receipt. */
  channels: ChannelRow[];
}

export interface LedgerStore {
  /** Insert the row as received, reading the alert's channels in the same statement. */
  receive(alert: Alert, receivedAt: Date): Promise<Receipt>;
  /** What an existing row says (read only when receive found the row already there). */
  outcomeOf(id: string): Promise<RowState>;
  /**
   * Apply a change to these rows; fields left out keep their values. Resolves with the
   * ids it changed: a decision only changes a row still `received`, and `delivering`
   * never changes a finished row (see ROUND).
   */
  apply(ids: string[], change: LedgerChange): Promise<string[]>;
}

type Db = Pick<pg.Pool, 'query'>;
type Item = { receipt: { alert: Alert; receivedAt: Date } } | { change: { ids: string[]; change: LedgerChange } };
const MAX_BATCH = 200;

// Every field of a change is non-null when given, so NULL in the batch means "keep".
// Named: each pooled connection parses and plans it once.
const ROUND = {
  name: 'bulwark_alert_ledger_round_v3',
  text: `WITH ins AS (
  INSERT INTO alert_ledger (id, tenant_id, type, severity, title, body, labels, runbook_url, group_key, user_id, occurred_at, received_at, outcome)
  SELECT r.*, 'received' FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[]) AS r
  ON CONFLICT (id) DO NOTHING RETURNING id
), upd AS (
  UPDATE alert_ledger l SET
    outcome = u.outcome,
    updated_at = now(),
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
  FROM unnest($13::uuid[], $14::text[], $15::text[], $16::uuid[], $17::timestamptz[], $18::text[], $19::int[], $20::int[], $21::text[], $22::timestamptz[])
    AS u(id, outcome, reason, group_id, defer_until, channel, attempts, status, error, delivered_at)
  WHERE l.id = u.id
    -- A decision goes only over a row still received: a job run again replays its
    -- decision, and must not undo what followed it (a flush, a digest, a delivery).
    AND (u.outcome NOT IN ('suppressed', 'deferred', 'grouped') OR l.outcome = 'received')
    -- A send is queued before its row says so: a row the queued job already finished stays finished.
    AND NOT (u.outcome = 'delivering' AND l.outcome IN ('delivered', 'failed', 'suppressed'))
  RETURNING l.id
)
SELECT 0 AS k, id, NULL::text AS name, NULL::text AS type, NULL::text AS target, NULL::text AS secret_ref, NULL::text AS encrypted_value, NULL::text AS key_id FROM ins
UNION ALL
SELECT -1, id, NULL, NULL, NULL, NULL, NULL, NULL FROM upd
UNION ALL
${channelsForKeysSql('$23', '$24')}
ORDER BY k, name`,
};

async function runRound(db: Db, items: Item[]): Promise<Array<Receipt | string[]>> {
  const receipts = items.flatMap((i) => ('receipt' in i ? [i.receipt] : []));
  const changes = items.flatMap((i) => ('change' in i ? i.change.ids.map((id) => ({ id, c: i.change.change })) : []));
  const r = <T>(f: (x: (typeof receipts)[number]) => T) => receipts.map(f);
  const u = <T>(f: (x: (typeof changes)[number]) => T) => changes.map(f);
  const keys = channelKeyParams(receipts.map(({ alert }) => ({ tenantId: alert.tenantId, severity: alert.severity })));
  const res = await db.query<ChannelRaw & { k: number }>({
    ...ROUND,
    values: [
      r((x) => x.alert.id),
      r((x) => x.alert.tenantId),
      r((x) => x.alert.type),
      r((x) => x.alert.severity),
      r((x) => x.alert.title),
      r((x) => x.alert.body ?? null),
      r((x) => (x.alert.labels === undefined ? null : JSON.stringify(x.alert.labels))),
      r((x) => x.alert.runbookUrl ?? null),
      r((x) => x.alert.groupKey ?? x.alert.type),
      r((x) => x.alert.userId ?? null),
      r((x) => new Date(x.alert.occurredAt)),
      r((x) => x.receivedAt),
      u((x) => x.id),
      u((x) => x.c.outcome),
      u((x) => x.c.reason ?? null),
      u((x) => x.c.groupId || null),
      u((x) => x.c.deferUntil ?? null),
      u((x) => x.c.channel || null),
      u((x) => x.c.attempts ?? null),
      u((x) => x.c.status ?? null),
      u((x) => (x.c.error === undefined ? null : x.c.error.slice(0, 500))),
      u((x) => x.c.deliveredAt ?? null),
      keys.tenants,
      keys.severities,
    ],
  });
  const inserted = new Set(res.rows.filter((row) => row.k === 0).map((row) => row.id));
  const updated = new Set(res.rows.filter((row) => row.k === -1).map((row) => row.id));
  const channels = keys.split(res.rows.filter((row) => row.k > 0));
  let n = 0;
  return items.map((i) => ('receipt' in i ? { inserted: inserted.has(i.receipt.alert.id), channels: channels[n++]! } : i.change.ids.filter((id) => updated.has(id))));
}

const idsOf = (i: Item) => ('change' in i ? i.change.ids : [i.receipt.alert.id]);

export function createLedgerStore(db: Db): LedgerStore {
  const round = createBatcher<Item, Receipt | string[]>({
    maxBatch: MAX_BATCH,
    run: (items) => runRound(db, items),
    // Two writes of one row go in order, in separate statements.
    conflicts: (a, b) => idsOf(a).some((id) => idsOf(b).includes(id)),
  });
  return {
    receive: async (alert, receivedAt) => (await round({ receipt: { alert, receivedAt } })) as Receipt,
    async outcomeOf(id) {
      const res = await db.query<RowState>('SELECT outcome, reason, group_id::text AS "groupId", defer_until AS "deferUntil" FROM alert_ledger WHERE id = $1', [id]);
      return res.rows[0] ?? { outcome: 'received', reason: null, groupId: null, deferUntil: null };
    },
    apply: async (ids, change) => (await round({ change: { ids, change } })) as string[],
  };
}
