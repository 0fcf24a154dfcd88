-- Evidence of restore drills (lib/backup/drill.ts): one row per drill, written when
-- it ends, passed or not. A drill that could not even start its restore (no backup to
-- drill, the store unreachable) is a failed drill too, with no backup_id or duration.
CREATE TABLE "restore_drills" (
    "id" UUID NOT NULL,
    -- The backup restored (its UTC time, YYYYMMDDTHHMMSSZ); null when there was none.
    "backup_id" VARCHAR(16),
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3) NOT NULL,
    -- The measured restore time (restore and its checks), in ms; null when no restore ran.
    "duration_ms" INTEGER,
    -- started_at minus the backup's time: the data a restore at that moment would have lost.
    "backup_age_seconds" INTEGER,
    -- Each check's outcome, in order: [{ "name", "ok", "detail"?, "ms"? }].
    "checks" JSONB NOT NULL,
    "passed" BOOLEAN NOT NULL,
    -- Why it failed, in one line (the failing check's detail); null when it passed.
    "error" VARCHAR(1000),
    -- What started it: "schedule" (RESTORE_DRILL_CRON) or "cli" (bulwark backup drill).
    "trigger" VARCHAR(16) NOT NULL,

    CONSTRAINT "restore_drills_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "restore_drills_trigger_check" CHECK ("trigger" IN ('schedule', 'cli')),
    CONSTRAINT "restore_drills_finished_check" CHECK ("finished_at" >= "started_at")
);

-- `bulwark backup drills` and the drill metrics read the newest rows first.
CREATE INDEX "restore_drills_started_at_idx" ON "restore_drills" ("started_at");
