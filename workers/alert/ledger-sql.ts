/**
 * The ledger's one statement per batch (ledger-store.ts runs it). It inserts new rows
 * as received, upserts each alert's row per channel (alert_deliveries), applies
 * changes to the alerts' rows, and reads the channels of each new alert. Every field of
 * a change is non-null when given, so NULL in the batch means "keep". Named: each
 * pooled connection parses and plans it once.
 *
 * Parameters: $1–$12 new rows; $13–$24 changes (id, outcome, reason, group_id,
 * defer_until, channel, attempts, status, error, delivered_at, channel_id, pending);
 * $25–$26 channel keys (channelsForKeysSql); $27–$36 delivery rows (alert_id,
 * channel_id, channel, channel_type, outcome, reason, attempts, status, error,
 * delivered_at).
 */
import { channelsForKeysSql } from './channel-store.js';

/** Milliseconds from the ledger row's receipt to a delivery, as the ledger stores it. */
const deliveryMs = (deliveredAt: string) =>
  `GREATEST(0, (EXTRACT(EPOCH FROM (${deliveredAt}::timestamptz(3) - l.received_at)) * 1000)::int)`;

/** Whether another channel of the change's alert is in this state, as it stood when the statement began. */
const otherChannel = (outcome: string) =>
  `EXISTS (SELECT 1 FROM alert_deliveries o WHERE o.alert_id = c.id AND o.channel_id <> c.channel_id AND o.outcome = '${outcome}')`;

/** The alert row's last-send fields: a success never overwrites those of another channel's failure. */
const lastSend = (column: string, value: string) => `${column} = CASE WHEN u.success_after_failure THEN l.${column} ELSE COALESCE(${value}, l.${column}) END`;

export const LEDGER_ROUND = {
  name: 'bulwark_alert_ledger_round_v6',
  text: `WITH ins AS (
  INSERT INTO alert_ledger (id, tenant_id, type, severity, title, body, labels, runbook_url, group_key, user_id, occurred_at, received_at, outcome)
  SELECT r.*, 'received' FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[]) AS r
  ON CONFLICT (id) DO NOTHING RETURNING id
), dlv AS (
  INSERT INTO alert_deliveries AS d (alert_id, channel_id, channel, channel_type, outcome, reason, attempts, last_status, last_error, delivered_at, delivery_ms)
  SELECT v.alert_id, v.channel_id, v.channel, v.channel_type, v.outcome, v.reason, COALESCE(v.attempts, 0), v.status, v.error, v.delivered_at,
    CASE WHEN v.delivered_at IS NULL THEN NULL ELSE ${deliveryMs('v.delivered_at')} END
  FROM unnest($27::uuid[], $28::uuid[], $29::text[], $30::text[], $31::text[], $32::text[], $33::int[], $34::int[], $35::text[], $36::timestamptz[])
    AS v(alert_id, channel_id, channel, channel_type, outcome, reason, attempts, status, error, delivered_at)
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
    delivery_ms = COALESCE(excluded.delivery_ms, d.delivery_ms)
  -- A send is queued before its row says so: a channel the queued job already finished stays finished.
  -- ON CONFLICT judges the row as last committed, so this holds for a result committed
  -- after this statement began; the rows it returns are the channels still to finish.
  WHERE NOT (excluded.outcome = 'delivering' AND d.outcome IN ('delivered', 'failed'))
  RETURNING d.alert_id, d.outcome
), upd AS (
  UPDATE alert_ledger l SET
    -- One channel's result settles the alert only when no other channel is still
    -- delivering; then any failed channel makes the alert failed, so a failure is never
    -- hidden by another channel's success.
    outcome = CASE
      WHEN u.channel_id IS NULL OR u.outcome NOT IN ('delivered', 'failed') THEN u.outcome
      WHEN u.others_delivering THEN 'delivering'
      WHEN u.outcome = 'failed' OR u.others_failed THEN 'failed'
      ELSE 'delivered' END,
    updated_at = now(),
    reason = COALESCE(u.reason, l.reason),
    group_id = COALESCE(u.group_id, l.group_id),
    defer_until = COALESCE(u.defer_until, l.defer_until),
    ${lastSend('channel', 'u.channel')},
    ${lastSend('attempts', 'u.attempts')},
    ${lastSend('last_status', 'u.status')},
    ${lastSend('last_error', 'u.error')},
    delivered_at = COALESCE(u.delivered_at, l.delivered_at),
    delivery_ms = CASE WHEN u.delivered_at IS NULL THEN l.delivery_ms ELSE ${deliveryMs('u.delivered_at')} END
  FROM (
    SELECT c.*, ${otherChannel('delivering')} AS others_delivering, ${otherChannel('failed')} AS others_failed,
      c.outcome = 'delivered' AND c.channel_id IS NOT NULL AND ${otherChannel('failed')} AS success_after_failure
    FROM unnest($13::uuid[], $14::text[], $15::text[], $16::uuid[], $17::timestamptz[], $18::text[], $19::int[], $20::int[], $21::text[], $22::timestamptz[], $23::uuid[], $24::text[])
      AS c(id, outcome, reason, group_id, defer_until, channel, attempts, status, error, delivered_at, channel_id, pending)
  ) u,
  -- Every channel row is written before any alert row is locked: one lock order for all
  -- rounds, so two rounds on the same alerts wait for each other instead of deadlocking.
  (SELECT count(*) FROM dlv) AS channel_rows_written
  WHERE l.id = u.id
    -- A decision goes only over a row still received: a job run again replays its
    -- decision, and must not undo what followed it (a flush, a digest, a delivery).
    AND (u.outcome NOT IN ('suppressed', 'deferred', 'grouped') OR l.outcome = 'received')
    -- A send is queued before its row says so: a finished row stays finished, unless
    -- one of the channels this change waits for ("pending") has not finished yet, that
    -- is, dlv wrote it as delivering. Not a read of alert_deliveries: a row re-checked
    -- after a concurrent commit is compared with the statement's older snapshot of other
    -- tables, which missed the commit and kept such alerts delivering for ever.
    AND NOT (u.outcome = 'delivering' AND l.outcome IN ('delivered', 'failed', 'suppressed') AND NOT (
      l.outcome <> 'suppressed' AND u.pending IS NOT NULL AND EXISTS (
        SELECT 1 FROM dlv WHERE dlv.alert_id = l.id AND dlv.outcome = 'delivering')))
  RETURNING l.id
)
SELECT 0 AS k, id, NULL::text AS name, NULL::text AS type, NULL::text AS target, NULL::text AS secret_ref, NULL::text AS encrypted_value, NULL::text AS key_id FROM ins
UNION ALL
SELECT -1, id, NULL, NULL, NULL, NULL, NULL, NULL FROM upd
UNION ALL
${channelsForKeysSql('$25', '$26')}
ORDER BY k, name`,
};
