/**
 * The ledger's statements on the hot path, batched across concurrently running alert
 * jobs (batcher.ts) into ONE statement per batch, on node-postgres directly (the pool
 * Prisma's adapter also uses): new rows as a multi-row INSERT, changes as one UPDATE ...
 * FROM unnest(...) with the per-channel rows as one upsert (ledger-sql.ts), and, for
 * each new alert, its tenant's channels for its severity
 * (read with the receipt: most decisions are `deliver` and need them). One round trip
 * and one commit per batch instead of Prisma's several queries per alert, which were
 * most of an alert's CPU.
 */
import type pg from 'pg';
import type { Alert } from '../../../lib/contracts/alert.js';
import { createBatcher } from './batcher.js';
import { channelKeyParams, type ChannelRaw, type ChannelRow } from './channels.js';
import { LEDGER_ROUND, settleFromChannelsSql } from './ledger-sql.js';

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
  /** The channel this result is for: its alert_deliveries row is written too. */
  channelId?: string;
  /** With `delivering`, the channels a fan-out just queued or is about to send to: each gets its row. */
  pendingChannels?: Array<Pick<ChannelRow, 'id' | 'name' | 'type'>>;
  /**
   * With pendingChannels queued as deliver jobs: the jobs' key, kept on their rows so the
   * sweep can find a lost one. With a channel's result from a queued job: that job's key.
   */
  jobKey?: string;
  /**
   * With a decision (suppressed, deferred): the state the row must still be in; default
   * `received`. A group's flush held by quiet hours decides over rows still `grouped`,
   * so a re-run of the flush, or a flush racing another, changes each row once.
   */
  from?: 'received' | 'grouped';
}

/** What a job run again needs to know of its row to redo what follows its decision. */
export interface RowState {
  /** Whose alert the row is: null only for a row not found. */
  tenantId: string | null;
  outcome: string;
  reason: string | null;
  groupId: string | null;
  deferUntil: Date | null;
  /** The alert's channels and where each send stands (alert_deliveries). */
  deliveries: Array<{ channelId: string; channel: string | null; outcome: string }>;
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
   * never changes a finished row unless a channel it waits for has not finished (see
   * ledger-sql.ts). A change naming a channel also writes that channel's row.
   */
  apply(ids: string[], change: LedgerChange): Promise<string[]>;
}

type Db = Pick<pg.Pool, 'query'>;
type Item = { receipt: { alert: Alert; receivedAt: Date } } | { change: { ids: string[]; change: LedgerChange } };
const MAX_BATCH = 200;

/** The per-channel rows a change writes: its own channel's, or one per channel a fan-out waits for. */
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface DeliveryRow { id: string; channelId: string; channel: string | null; channelType: string | null; jobKey: string | null; c: LedgerChange }

function deliveryRows(changes: Array<{ id: string; c: LedgerChange }>): DeliveryRow[] {
  const rows = changes.flatMap(({ id, c }): DeliveryRow[] => {
    if (c.channelId) return [{ id, channelId: c.channelId, channel: c.channel ?? null, channelType: c.channelType ?? null, jobKey: c.jobKey ?? null, c }];
    return (c.pendingChannels ?? []).map((ch) => ({ id, channelId: ch.id, channel: ch.name, channelType: ch.type, jobKey: c.jobKey ?? null, c: { outcome: 'delivering' } as LedgerChange }));
  });
  // One upsert cannot touch a row twice: a pair given twice (a repeated id or channel) is written once.
  // In key order, as the changes are: rounds of other processes on the same rows lock
  // them in the same order and wait for each other instead of deadlocking.
  return [...new Map(rows.map((r) => [`${r.id}|${r.channelId}`, r])).values()].sort((a, b) => byKey(`${a.id}|${a.channelId}`, `${b.id}|${b.channelId}`));
}

async function runRound(db: Db, items: Item[]): Promise<Array<Receipt | string[]>> {
  const receipts = items.flatMap((i) => ('receipt' in i ? [i.receipt] : []));
  const changes = items.flatMap((i) => ('change' in i ? i.change.ids.map((id) => ({ id, c: i.change.change })) : [])).sort((a, b) => byKey(a.id, b.id));
  const r = <T>(f: (x: (typeof receipts)[number]) => T) => receipts.map(f);
  const u = <T>(f: (x: (typeof changes)[number]) => T) => changes.map(f);
  const keys = channelKeyParams(receipts.map(({ alert }) => ({ tenantId: alert.tenantId, severity: alert.severity })));
  const deliveries = deliveryRows(changes);
  const d = <T>(f: (x: (typeof deliveries)[number]) => T) => deliveries.map(f);
  const res = await db.query<ChannelRaw & { k: number }>({
    ...LEDGER_ROUND,
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
      // The contract's UTC ISO text, not a Date: node-postgres writes a Date in the
      // process's local zone with a whole-minute offset, so in a zone whose offset then
      // had seconds (Europe/Berlin before 1893: +00:53:28) the instant moved by them.
      r((x) => x.alert.occurredAt),
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
      u((x) => x.c.channelId ?? null),
      // The channels a `delivering` change waits for: a finished row goes back to
      // delivering only for one of them that has not finished.
      u((x) => (x.c.outcome !== 'delivering' ? null : x.c.pendingChannels?.map((ch) => ch.id).join(',') ?? x.c.channelId ?? null)),
      keys.tenants,
      keys.severities,
      d((x) => x.id),
      d((x) => x.channelId),
      d((x) => x.channel),
      d((x) => x.channelType),
      d((x) => x.c.outcome),
      d((x) => x.c.reason ?? null),
      d((x) => x.c.attempts ?? null),
      d((x) => x.c.status ?? null),
      d((x) => (x.c.error === undefined ? null : x.c.error.slice(0, 500))),
      d((x) => x.c.deliveredAt ?? null),
      d((x) => x.jobKey),
      u((x) => x.c.from ?? null),
    ],
  });
  const inserted = new Set(res.rows.filter((row) => row.k === 0).map((row) => row.id));
  const updated = new Set(res.rows.filter((row) => row.k === -1).map((row) => row.id));
  // A channel's result that left its alert delivering: the other channels may have
  // finished in a commit this statement's snapshot missed (settleFromChannelsSql).
  const reopened = new Set(res.rows.filter((row) => row.k === -1 && row.name === 'delivering').map((row) => row.id));
  const waiting = changes.filter(({ id, c }) => c.channelId && (c.outcome === 'delivered' || c.outcome === 'failed') && reopened.has(id)).map(({ id }) => id);
  if (waiting.length > 0) await db.query(settleFromChannelsSql('l.id = ANY($1::uuid[])'), [waiting]);
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
      const res = await db.query<RowState>(
        `SELECT tenant_id::text AS "tenantId", outcome, reason, group_id::text AS "groupId", defer_until AS "deferUntil",
           (SELECT COALESCE(json_agg(json_build_object('channelId', d.channel_id, 'channel', d.channel, 'outcome', d.outcome)), '[]') FROM alert_deliveries d WHERE d.alert_id = l.id) AS deliveries
         FROM alert_ledger l WHERE id = $1`,
        [id],
      );
      return res.rows[0] ?? { tenantId: null, outcome: 'received', reason: null, groupId: null, deferUntil: null, deliveries: [] };
    },
    apply: async (ids, change) => (await round({ change: { ids, change } })) as string[],
  };
}
