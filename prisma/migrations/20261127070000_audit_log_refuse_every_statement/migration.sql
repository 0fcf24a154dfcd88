-- Append-only, for every UPDATE and DELETE statement on audit_log, not only those that
-- reach a row. The row trigger of the init migration fires per changed row, so an
-- UPDATE or DELETE matching nothing (an empty tenant, a WHERE that misses) succeeded
-- with "0 rows": its author could take it that audit entries can be changed. A
-- statement trigger refuses it before any row is looked at. The row trigger stays, and
-- both call audit_log_refuse_change(), where retention's future exemption is checked.
-- Like the others it is skipped under session_replication_role = replica (superusers
-- only), which is the tampering `bulwark audit verify` detects.
CREATE TRIGGER "audit_log_no_update_delete_statement"
    BEFORE UPDATE OR DELETE ON "audit_log"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_refuse_change"();
