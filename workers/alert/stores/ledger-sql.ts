/**
 * The ledger's one statement per batch (ledger-store.ts runs it). It inserts new rows
 * as received, upserts each alert's row per channel (alert_deliveries), applies
 * changes to the alerts' rows, and reads the channels of each new alert. Every field of
 * a change is non-null when given, so NULL in the batch means "keep". Named: each
 * pooled connection parses and plans it once.
 *
 * Parameters: $1–$12 new rows; $13–$24 changes (id, outcome, reason, group_id,
 * defer_until, channel, attempts, status, error, delivered_at, channel_id, pending);
 * $25–$26 channel keys (channelsForKeysSql); $27–$37 delivery rows (alert_id,
 * channel_id, channel, channel_type, outcome, reason, attempts, status, error,
 * delivered_at, job_key); $38 the changes' `from` (the state a decision must find).
 */
import { channelsForKeysSql } from './channels.js';

/** Milliseconds from the ledger row's receipt to a delivery, as the ledger stores it. */
const deliveryMs = (deliveredAt: string) =>
  `GREATEST(0, (EXTRACT(EPOCH FROM (${deliveredAt}::timestamptz(3) - l.received_at)) * 1000)::int)`;

/** Whether another channel of the change's alert is in this state, as it stood when the statement began. */
const otherChannel = (outcome: string) =>
  `EXISTS (SELECT 1 FROM alert_deliveries o WHERE o.alert_id = c.id AND o.channel_id <> c.channel_id AND o.outcome = '${outcome}')`;

/** The alert row's last-send fields: a success never overwrites those of another channel's failure. */
const lastSend = (column: string, value: string) => `${column} = CASE WHEN u.success_after_failure THEN l.${column} ELSE COALESCE(${value}, l.${column}) END`;

export const LEDGER_ROUND = {
  name: 'bulwark_alert_ledger_round_v9',
  text: `WITH ins AS (
  INSERT INTO alert_ledger (id, tenant_id, type, severity, title, body, labels, runbook_url, group_key, user_id, occurred_at, received_at, outcome)
  SELECT r.*, 'received' FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[]) AS r
  ON CONFLICT (id) DO NOTHING RETURNING id
), dlv AS (
  INSERT INTO alert_deliveries AS d (alert_id, channel_id, channel, channel_type, outcome, reason, attempts, last_status, last_error, delivered_at, delivery_ms, job_key)
  SELECT v.alert_id, v.channel_id, v.channel, v.channel_type, v.outcome, v.reason, COALESCE(v.attempts, 0), v.status, v.error, v.delivered_at,
    CASE WHEN v.delivered_at IS NULL THEN NULL ELSE ${deliveryMs('v.delivered_at')} END, v.job_key
  FROM unnest($27::uuid[], $28::uuid[], $29::text[], $30::text[], $31::text[], $32::text[], $33::int[], $34::int[], $35::text[], $36::timestamptz[], $37::text[])
    AS v(alert_id, channel_id, channel, channel_type, outcome, reason, attempts, status, error, delivered_at, job_key)
  JOIN alert_ledger l ON l.id = v.alert_id
  ON CONFLICT (alert_id, channel_id) DO UPDATE SET
    outcome = excluded.outcome,
    updated_at = now(),
    channel = COALESCE(excluded.channel, d.channel),
    channel_type = COALESCE(excluded.channel_type, d.channel_type),
    reason = COALESCE(excluded.reason, d.reason),
    attempts = GREATEST(excluded.attempts, d.attempts),
    last_status = COALESCE(excluded.last_status, d.last_status),
    last_error = COALESCE(excluded.last_error, d.last_error),
    delivered_at = COALESCE(excluded.delivered_at, d.delivered_at),
    delivery_ms = COALESCE(excluded.delivery_ms, d.delivery_ms),
    job_key = COALESCE(excluded.job_key, d.job_key)
  -- A send is queued before its row says so: a channel the queued job already finished stays finished.
  -- ON CONFLICT judges the row as last committed, so this holds for a result committed
  -- after this statement began; the rows it returns are the channels still to finish.
  WHERE NOT (excluded.outcome = 'delivering' AND d.outcome IN ('delivered', 'failed'))
  RETURNING d.alert_id, d.outcome
), upd AS (
  UPDATE alert_ledger l SET
    outcome = u.next_outcome,
    updated_at = now(),
    reason = COALESCE(u.reason, l.reason),
    group_id = COALESCE(u.group_id, l.group_id),
    defer_until = COALESCE(u.defer_until, l.defer_until),
    ${lastSend('channel', 'u.channel')},
    ${lastSend('attempts', 'u.attempts')},
    ${lastSend('last_status', 'u.status')},
    ${lastSend('last_error', 'u.error')},
    -- The alert's delivery time is its last channel's, and only an alert delivered has one.
    delivered_at = CASE WHEN u.next_outcome <> 'delivered' THEN NULL ELSE COALESCE(u.delivered_at, l.delivered_at) END,
    delivery_ms = CASE WHEN u.next_outcome <> 'delivered' THEN NULL WHEN u.delivered_at IS NULL THEN l.delivery_ms ELSE ${deliveryMs('u.delivered_at')} END
  FROM (
    SELECT c.*,
      c.outcome = 'delivered' AND c.channel_id IS NOT NULL AND ${otherChannel('failed')} AS success_after_failure,
      -- One channel's result settles the alert only when no other channel is still
      -- delivering; then any failed channel makes the alert failed, so a failure is never
      -- hidden by another channel's success.
      CASE
        WHEN c.channel_id IS NULL OR c.outcome NOT IN ('delivered', 'failed') THEN c.outcome
        WHEN ${otherChannel('delivering')} THEN 'delivering'
        WHEN c.outcome = 'failed' OR ${otherChannel('failed')} THEN 'failed'
        ELSE 'delivered' END AS next_outcome
    FROM unnest($13::uuid[], $14::text[], $15::text[], $16::uuid[], $17::timestamptz[], $18::text[], $19::int[], $20::int[], $21::text[], $22::timestamptz[], $23::uuid[], $24::text[], $38::text[])
      AS c(id, outcome, reason, group_id, defer_until, channel, attempts, status, error, delivered_at, channel_id, pending, from_outcome)
  ) u,
  -- Every channel row is written before any alert row is locked: one lock order for all
  -- rounds, so two rounds on the same alerts wait for each other instead of deadlocking.
  (SELECT count(*) FROM dlv) AS channel_rows_written
  WHERE l.id = u.id
    -- A decision goes only over a row still received (or, for a group held by quiet
    -- hours at its flush, still grouped): a job run again replays its decision, and
    -- must not undo what followed it (a flush, a digest, a delivery).
    AND (u.outcome NOT IN ('suppressed', 'deferred', 'grouped') OR l.outcome = COALESCE(u.from_outcome, 'received'))
    -- A send is queued before its row says so: a finished row stays finished, unless
    -- one of the channels this change waits for ("pending") has not finished yet, that
    -- is, dlv wrote it as delivering. Not a read of alert_deliveries: a row re-checked
    -- after a concurrent commit is compared with the statement's older snapshot of other
    -- tables, which missed the commit and kept such alerts delivering for ever.
    AND NOT (u.outcome = 'delivering' AND l.outcome IN ('delivered', 'failed', 'suppressed') AND NOT (
      l.outcome <> 'suppressed' AND u.pending IS NOT NULL AND EXISTS (
        SELECT 1 FROM dlv WHERE dlv.alert_id = l.id AND dlv.outcome = 'delivering')))
  RETURNING l.id, l.outcome
)
SELECT 0 AS k, id, NULL::text AS name, NULL::text AS type, NULL::text AS target, NULL::text AS secret_ref, NULL::text AS encrypted_value, NULL::text AS key_id FROM ins
UNION ALL
SELECT -1, id, outcome, NULL, NULL, NULL, NULL, NULL FROM upd
UNION ALL
${channelsForKeysSql('$25', '$26')}
ORDER BY k, name`,
};

/**
 * Alerts still `delivering` whose channels have all finished get the outcome their last
 * channel's result would have given them: failed (with a failed channel's last-send
 * fields) if any failed, else delivered at the last channel's time. Two channels'
 * results committed at once each judge the other by a snapshot taken before it, so
 * both can leave the alert delivering; the ledger runs this right after such a round,
 * in a new snapshot, and the sweep runs it for anything older.
 *
 * `filter` is a condition on the alert row `l` (it may use parameters); a row changed
 * since this statement's snapshot is left to whoever changed it.
 */
export function settleFromChannelsSql(filter: string, limit?: number): string {
  return `WITH settled AS (
  -- xmin: the row version this snapshot saw (updated_at could repeat within a millisecond).
  SELECT d.alert_id, l.xmin::text AS seen_version, bool_or(d.outcome = 'failed') AS failed, max(d.delivered_at) AS delivered_at
    FROM alert_ledger l JOIN alert_deliveries d ON d.alert_id = l.id
   WHERE l.outcome = 'delivering' AND ${filter}
   GROUP BY d.alert_id, l.xmin::text HAVING bool_and(d.outcome IN ('delivered', 'failed'))
   ${limit === undefined ? '' : `LIMIT ${limit}`}
)
UPDATE alert_ledger l SET
  outcome = CASE WHEN s.failed THEN 'failed' ELSE 'delivered' END,
  updated_at = now(),
  reason = CASE WHEN s.failed THEN f.reason ELSE l.reason END,
  channel = CASE WHEN s.failed THEN f.channel ELSE l.channel END,
  attempts = CASE WHEN s.failed THEN f.attempts ELSE l.attempts END,
  last_status = CASE WHEN s.failed THEN f.last_status ELSE l.last_status END,
  last_error = CASE WHEN s.failed THEN f.last_error ELSE l.last_error END,
  delivered_at = CASE WHEN s.failed THEN NULL ELSE s.delivered_at END,
  delivery_ms = CASE WHEN s.failed OR s.delivered_at IS NULL THEN NULL ELSE ${deliveryMs('s.delivered_at')} END
  FROM settled s
  LEFT JOIN LATERAL (
    SELECT x.reason, x.channel, x.attempts, x.last_status, x.last_error FROM alert_deliveries x
     WHERE x.alert_id = s.alert_id AND x.outcome = 'failed' ORDER BY x.updated_at DESC LIMIT 1
  ) f ON true
 WHERE l.id = s.alert_id AND l.outcome = 'delivering' AND l.xmin::text = s.seen_version
RETURNING l.id::text, l.tenant_id::text, l.outcome`;
}
