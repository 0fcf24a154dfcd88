-- The alert sweep (workers/alert/sweep.ts) looks every minute for ledger rows still
-- waiting: grouped or deferred past their flush or digest time, and received or
-- delivering with no change for too long. Those rows are few; partial indexes keep the
-- look cheap however large the ledger grows. (Partial indexes cannot be written in
-- schema.prisma; they live here only.)

-- When the row last changed (the ledger's statements set it on every change).
ALTER TABLE "alert_ledger" ADD COLUMN "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
-- Only the rows the stale report reads need a truthful value (the others keep the
-- migration's time): a smaller update, and a shorter lock on a large ledger.
UPDATE "alert_ledger" SET "updated_at" = "received_at" WHERE "outcome" IN ('received', 'delivering');

-- defer_until of a grouped row is now its group's flush time. Rows grouped before this
-- migration have none: an hour after receipt stands in (the longest group wait), so
-- the sweep flushes those left waiting and never an open group early.
UPDATE "alert_ledger" SET "defer_until" = "received_at" + interval '1 hour' WHERE "outcome" = 'grouped' AND "defer_until" IS NULL;

CREATE INDEX "alert_ledger_waiting_until_idx" ON "alert_ledger" ("defer_until") WHERE "outcome" IN ('grouped', 'deferred');
CREATE INDEX "alert_ledger_pending_updated_idx" ON "alert_ledger" ("updated_at") WHERE "outcome" IN ('received', 'delivering');
