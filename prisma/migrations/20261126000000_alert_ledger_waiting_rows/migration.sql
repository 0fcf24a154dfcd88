-- The alert sweep (workers/alert/sweep.ts) looks every minute for ledger rows still
-- waiting: grouped or deferred past their flush or digest time, and received or
-- delivering for too long. Those rows are few; partial indexes keep the look cheap
-- however large the ledger grows. (Partial indexes cannot be written in
-- schema.prisma; they live here only.)
CREATE INDEX alert_ledger_waiting_until_idx ON alert_ledger (defer_until) WHERE outcome IN ('grouped', 'deferred');
CREATE INDEX alert_ledger_pending_received_idx ON alert_ledger (received_at) WHERE outcome IN ('received', 'delivering');
