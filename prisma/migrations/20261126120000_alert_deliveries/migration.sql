-- One row per alert and channel it is sent to. The ledger row of an alert sent to
-- several channels could tell only one send (the last), so a failed channel could be
-- hidden by a later success on another, and a job run again after a crash could not
-- tell which channels were already reached. The ledger row keeps the alert's overall
-- outcome: delivering while any channel is, then failed if any channel failed, else
-- delivered (workers/alert/ledger-store.ts).
CREATE TABLE "alert_deliveries" (
    "alert_id" UUID NOT NULL,
    -- No foreign key to alert_channels: a channel removed later keeps its history.
    "channel_id" UUID NOT NULL,
    "channel" VARCHAR(100),
    "channel_type" VARCHAR(16),
    "outcome" VARCHAR(16) NOT NULL,
    "reason" VARCHAR(32),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_status" INTEGER,
    "last_error" VARCHAR(500),
    "delivered_at" TIMESTAMPTZ(3),
    "delivery_ms" INTEGER,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_deliveries_pkey" PRIMARY KEY ("alert_id", "channel_id"),
    -- Deleting ledger rows (retention) takes their deliveries with them.
    CONSTRAINT "alert_deliveries_alert_id_fkey" FOREIGN KEY ("alert_id") REFERENCES "alert_ledger"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Rows recorded before this migration: their one send becomes their one channel row,
-- where the channel still exists (the ledger kept its name, not its id). A job run
-- again for such an alert then finds that channel reached instead of sending again.
INSERT INTO "alert_deliveries" ("alert_id", "channel_id", "channel", "channel_type", "outcome", "reason", "attempts", "last_status", "last_error", "delivered_at", "delivery_ms", "updated_at")
SELECT l."id", c."id", l."channel", c."type", l."outcome", CASE WHEN l."outcome" = 'failed' THEN l."reason" END,
       l."attempts", l."last_status", l."last_error", l."delivered_at", l."delivery_ms", l."updated_at"
  FROM "alert_ledger" l
  JOIN "alert_channels" c ON c."tenant_id" = l."tenant_id" AND c."name" = l."channel"
 WHERE l."outcome" IN ('delivering', 'delivered', 'failed') AND l."channel" IS NOT NULL;
