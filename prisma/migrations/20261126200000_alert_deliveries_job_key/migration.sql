-- The key of the deliver job a queued fan-out (a group's or digest's part, a re-run)
-- put this channel's send in: its job id is deliver-<job_key>-<channel_id>. The row
-- alone could not name the job of a group or digest part (the key hashes the part's
-- alert ids), so the sweep could not tell whether that job was lost. NULL for a send
-- made inline and for rows written before this column.
ALTER TABLE "alert_deliveries" ADD COLUMN "job_key" VARCHAR(200);
