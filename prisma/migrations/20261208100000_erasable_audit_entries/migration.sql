-- Erasable audit entries (issue 18 §2, docs/decisions/0009-erasable-audit-entries.md).
--
-- Format 2: an entry's personal data (lib/privacy/fields.ts) is stored in
-- audit_personal_data with a per-entry salt; audit_log holds NULL in those columns and
-- pd_digest, the salted digest the chain hash covers. Erasure deletes the
-- audit_personal_data row and the chain still verifies.
-- Format 1 (entries written before): the personal-data columns of audit_log itself are
-- set to NULL by audit_erase_personal(), which first records a signed erasure record
-- (audit_erasures) keeping the entry's original hash and the hash of what remains.
--
-- Two roles, neither able to log in (created only when missing; the migrating role
-- needs CREATEROLE or to be a superuser, as for 20261206500000_retention):
--   bw_audit_eraser  owns audit_erase_personal() (SECURITY DEFINER) and is the only role
--                    whose UPDATE of audit_log's personal-data columns the append-only
--                    trigger lets through. Nobody is made a member of it.
--   bw_privacy       may EXECUTE audit_erase_personal(); the operator grants it to the
--                    role `bulwark subject erase` and the API connect as.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bw_audit_eraser') THEN
        BEGIN
            CREATE ROLE bw_audit_eraser NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bw_privacy') THEN
        BEGIN
            CREATE ROLE bw_privacy NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'this migration creates the roles bw_audit_eraser and bw_privacy: run it as a role with CREATEROLE (or a superuser), or have them created first (docs/going-to-production.md#roles)'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Which canonical form an entry's hash follows, and format 2's digest of its personal
-- data (NULL when the entry has none). Both constant defaults: no table rewrite.
ALTER TABLE "audit_log" ADD COLUMN "format" SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE "audit_log" ADD COLUMN "pd_digest" CHAR(64);
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_format_check" CHECK ("format" IN (1, 2)) NOT VALID;

-- CreateTable
-- No foreign key to audit_log (the write path would pay a lookup per row); rows leave
-- with their entry through audit_purge() and with the subject through
-- audit_erase_personal(), the only two roles the guard below lets delete.
CREATE TABLE "audit_personal_data" (
    "tenant_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "salt" CHAR(32) NOT NULL,
    "actor_id" VARCHAR(255),
    "ip" VARCHAR(64),
    "user_agent" VARCHAR(512),
    "before_state" JSONB,
    "after_state" JSONB,
    "metadata" JSONB,
    "resource_id" VARCHAR(255),
    "reason" TEXT,
    "request_id" VARCHAR(128),

    CONSTRAINT "audit_personal_data_pkey" PRIMARY KEY ("tenant_id", "seq")
);
CREATE INDEX "audit_personal_data_tenant_id_actor_id_seq_idx" ON "audit_personal_data"("tenant_id", "actor_id", "seq");
ALTER TABLE "audit_personal_data" ADD CONSTRAINT "audit_personal_data_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- CreateTable
-- One signed record per erased entry: the entry's hash as the chain has it, and for
-- format 1 the hash the redacted row has (redacted_hash), signed with
-- ERASURE_SIGNING_KEY (docs/jobs/audit-write.md § Erased entries).
CREATE TABLE "audit_erasures" (
    "tenant_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "erasure_id" UUID NOT NULL,
    "format" SMALLINT NOT NULL,
    "hash" CHAR(64) NOT NULL,
    "redacted_hash" CHAR(64),
    "erased_at" TIMESTAMPTZ(3) NOT NULL,
    "key_id" VARCHAR(16) NOT NULL,
    "signature" VARCHAR(100) NOT NULL,

    CONSTRAINT "audit_erasures_pkey" PRIMARY KEY ("tenant_id", "seq"),
    CONSTRAINT "audit_erasures_format_check" CHECK (("format" = 1 AND "redacted_hash" IS NOT NULL) OR ("format" = 2 AND "redacted_hash" IS NULL))
);
ALTER TABLE "audit_erasures" ADD CONSTRAINT "audit_erasures_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- CreateTable
-- One subject erasure run: what it did so far (a run killed half-way is finished by
-- the next run for the same subject, found by subject_key, an HMAC of the subject
-- under a key derived from ERASURE_SIGNING_KEY, never the subject itself).
CREATE TABLE "subject_erasures" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "subject_key" CHAR(64) NOT NULL,
    "reason" VARCHAR(500) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "counts" JSONB NOT NULL DEFAULT '{}',
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "requested_by" VARCHAR(255) NOT NULL,

    CONSTRAINT "subject_erasures_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "subject_erasures_status_check" CHECK ("status" IN ('running', 'done'))
);
CREATE UNIQUE INDEX "subject_erasures_running_key" ON "subject_erasures"("tenant_id", "subject_key") WHERE "status" = 'running';
ALTER TABLE "subject_erasures" ADD CONSTRAINT "subject_erasures_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Personal data rows are inserted by the writer, never changed; only audit_purge()
-- (retention) and audit_erase_personal() (erasure) delete them.
CREATE FUNCTION "audit_personal_data_guard"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user IN ('bw_audit_eraser', 'bw_audit_purger') THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_personal_data is insert-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Personal data leaves through audit_erase_personal() (bulwark subject erase) or audit_purge() (retention)';
END;
$$;
CREATE TRIGGER "audit_personal_data_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_personal_data"
    FOR EACH ROW EXECUTE FUNCTION "audit_personal_data_guard"();
CREATE TRIGGER "audit_personal_data_no_update_delete_statement" BEFORE UPDATE OR DELETE ON "audit_personal_data"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_personal_data_guard"();
CREATE TRIGGER "audit_personal_data_no_truncate" BEFORE TRUNCATE ON "audit_personal_data"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_personal_data_guard"();

-- Erasure records are written only by audit_erase_personal() and never changed.
CREATE FUNCTION "audit_erasures_guard"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND current_user = 'bw_audit_eraser' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_erasures is written only by audit_erase_personal(): % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "audit_erasures_guard_row" BEFORE INSERT OR UPDATE OR DELETE ON "audit_erasures"
    FOR EACH ROW EXECUTE FUNCTION "audit_erasures_guard"();
CREATE TRIGGER "audit_erasures_guard_truncate" BEFORE TRUNCATE ON "audit_erasures"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_erasures_guard"();

-- The append-only trigger function with its second exemption: an UPDATE executed as
-- bw_audit_eraser (only inside audit_erase_personal()) that sets personal-data columns
-- of a format-1 entry to NULL, changes nothing else, and has its erasure record.
CREATE OR REPLACE FUNCTION "audit_log_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = 'bw_audit_purger' THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND current_user = 'bw_audit_eraser' THEN
        IF TG_LEVEL = 'STATEMENT' THEN
            RETURN NULL;
        END IF;
        IF (NEW.id, NEW.tenant_id, NEW.seq, NEW.event_id, NEW.occurred_at, NEW.recorded_at, NEW.actor_type,
            NEW.action, NEW.resource_type, NEW.confidence, NEW.severity, NEW.prev_hash, NEW.hash, NEW.format, NEW.pd_digest)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.tenant_id, OLD.seq, OLD.event_id, OLD.occurred_at, OLD.recorded_at, OLD.actor_type,
            OLD.action, OLD.resource_type, OLD.confidence, OLD.severity, OLD.prev_hash, OLD.hash, OLD.format, OLD.pd_digest)
           AND (NEW.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id)
           AND (NEW.ip IS NULL OR NEW.ip IS NOT DISTINCT FROM OLD.ip)
           AND (NEW.user_agent IS NULL OR NEW.user_agent IS NOT DISTINCT FROM OLD.user_agent)
           AND (NEW.before_state IS NULL OR NEW.before_state IS NOT DISTINCT FROM OLD.before_state)
           AND (NEW.after_state IS NULL OR NEW.after_state IS NOT DISTINCT FROM OLD.after_state)
           AND (NEW.metadata IS NULL OR NEW.metadata IS NOT DISTINCT FROM OLD.metadata)
           AND (NEW.resource_id IS NULL OR NEW.resource_id IS NOT DISTINCT FROM OLD.resource_id)
           AND (NEW.reason IS NULL OR NEW.reason IS NOT DISTINCT FROM OLD.reason)
           AND (NEW.request_id IS NULL OR NEW.request_id IS NOT DISTINCT FROM OLD.request_id)
           AND OLD.format = 1
           AND EXISTS (SELECT 1 FROM audit_erasures e WHERE e.tenant_id = OLD.tenant_id AND e.seq = OLD.seq AND e.hash = OLD.hash) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log: an erasure may only set personal-data columns of a recorded format-1 entry to NULL (seq %)', OLD.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit entries can only be inserted; retention purges them through audit_purge(), erasure redacts through audit_erase_personal(), see docs/jobs/audit-write.md';
END;
$$;

-- Erase the personal data of the listed entries of one tenant. p_records: a JSON array
-- of {seq, hash, redacted_hash (format 1; null for format 2), erased_at, key_id,
-- signature}; p_columns: the personal-data columns to clear in format-1 rows (the
-- six built-in ones and the tenant's additions). For each entry that still exists with
-- that hash, is not erased yet and no active legal hold covers: insert its erasure
-- record, then delete its audit_personal_data row (format 2) or set those columns of
-- its audit_log row to NULL (format 1). Returns the seqs erased. Anything held makes
-- the whole call fail (the caller checks holds first; this is the database's own check).
CREATE FUNCTION "audit_erase_personal"(p_tenant UUID, p_erasure UUID, p_records JSONB, p_columns TEXT[])
RETURNS TABLE ("seq" BIGINT)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_allowed TEXT[] := ARRAY['actor_id', 'ip', 'user_agent', 'before_state', 'after_state', 'metadata', 'resource_id', 'reason', 'request_id'];
    v_held BIGINT;
    v_f1 BIGINT[];
    v_f2 BIGINT[];
BEGIN
    IF p_tenant IS NULL OR p_erasure IS NULL OR p_records IS NULL OR p_columns IS NULL THEN
        RAISE EXCEPTION 'audit_erase_personal: every argument is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (p_columns <@ v_allowed) OR NOT (ARRAY['actor_id', 'ip', 'user_agent', 'before_state', 'after_state', 'metadata'] <@ p_columns) THEN
        RAISE EXCEPTION 'audit_erase_personal: p_columns must hold the six built-in personal-data columns and only personal-data columns, not %', p_columns
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(p_records) <> 'array' OR jsonb_array_length(p_records) > 10000 THEN
        RAISE EXCEPTION 'audit_erase_personal: p_records must be an array of at most 10000 records' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The database's own hold check (the caller refuses held subjects before it starts).
    SELECT count(*) INTO v_held
      FROM jsonb_to_recordset(p_records) AS r(seq BIGINT)
      JOIN audit_log a ON a.tenant_id = p_tenant AND a.seq = r.seq
      LEFT JOIN audit_personal_data p ON p.tenant_id = p_tenant AND p.seq = r.seq
     WHERE EXISTS (
        SELECT 1 FROM legal_holds h
         WHERE h.tenant_id = p_tenant AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now())
           AND (h.scope = 'all'
                OR (h.scope = 'actor' AND h.actor_id = coalesce(a.actor_id, p.actor_id))
                OR (h.scope = 'resource' AND h.resource_type = a.resource_type AND h.resource_id = coalesce(a.resource_id, p.resource_id))));
    IF v_held > 0 THEN
        RAISE EXCEPTION 'audit_erase_personal: % of the entries are under an active legal hold of tenant %', v_held, p_tenant
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Records first: the audit_log trigger lets a format-1 redaction through only when
    -- the entry's record exists. Entries gone, with another hash, or erased already are skipped.
    WITH ins AS (
        INSERT INTO audit_erasures (tenant_id, seq, erasure_id, format, hash, redacted_hash, erased_at, key_id, signature)
        SELECT p_tenant, r.seq, p_erasure, a.format, a.hash, CASE WHEN a.format = 1 THEN r.redacted_hash END,
               r.erased_at, r.key_id, r.signature
          FROM jsonb_to_recordset(p_records) AS r(seq BIGINT, hash CHAR(64), redacted_hash CHAR(64), erased_at TIMESTAMPTZ, key_id TEXT, signature TEXT)
          JOIN audit_log a ON a.tenant_id = p_tenant AND a.seq = r.seq AND a.hash = r.hash
         WHERE NOT EXISTS (SELECT 1 FROM audit_erasures e WHERE e.tenant_id = p_tenant AND e.seq = r.seq)
        RETURNING audit_erasures.seq, audit_erasures.format)
    SELECT coalesce(array_agg(i.seq) FILTER (WHERE i.format = 1), '{}'), coalesce(array_agg(i.seq) FILTER (WHERE i.format = 2), '{}')
      INTO v_f1, v_f2 FROM ins i;
    DELETE FROM audit_personal_data p WHERE p.tenant_id = p_tenant AND p.seq = ANY (v_f2);
    UPDATE audit_log a SET
        actor_id = NULL, ip = NULL, user_agent = NULL, before_state = NULL, after_state = NULL, metadata = NULL,
        resource_id = CASE WHEN 'resource_id' = ANY (p_columns) THEN NULL ELSE a.resource_id END,
        reason = CASE WHEN 'reason' = ANY (p_columns) THEN NULL ELSE a.reason END,
        request_id = CASE WHEN 'request_id' = ANY (p_columns) THEN NULL ELSE a.request_id END
     WHERE a.tenant_id = p_tenant AND a.seq = ANY (v_f1);
    RETURN QUERY SELECT s FROM unnest(v_f1 || v_f2) AS s ORDER BY s;
END;
$$;
REVOKE ALL ON FUNCTION "audit_erase_personal"(UUID, UUID, JSONB, TEXT[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "audit_erase_personal"(UUID, UUID, JSONB, TEXT[]) TO bw_privacy;
GRANT SELECT ON "audit_log", "audit_personal_data", "legal_holds", "audit_erasures" TO bw_audit_eraser;
GRANT UPDATE ("actor_id", "ip", "user_agent", "before_state", "after_state", "metadata", "resource_id", "reason", "request_id") ON "audit_log" TO bw_audit_eraser;
GRANT DELETE ON "audit_personal_data" TO bw_audit_eraser;
GRANT INSERT ON "audit_erasures" TO bw_audit_eraser;
GRANT DELETE ON "audit_personal_data" TO bw_audit_purger;
GRANT SELECT ON "audit_personal_data" TO bw_audit_purger;
GRANT USAGE ON SCHEMA public TO bw_audit_eraser;

-- Hand the function to bw_audit_eraser, as 20261206500000_retention hands audit_purge()
-- to bw_audit_purger: a non-superuser is made a member of the new owner, and the owner
-- given CREATE on the schema, for this transaction only.
DO $$
DECLARE
    v_super BOOLEAN;
    v_member BOOLEAN;
    v_create BOOLEAN;
BEGIN
    SELECT rolsuper INTO v_super FROM pg_roles WHERE rolname = current_user;
    IF NOT v_super THEN
        v_member := EXISTS (
            SELECT 1 FROM pg_auth_members m
             WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = 'bw_audit_eraser')
               AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user));
        v_create := has_schema_privilege('bw_audit_eraser', 'public', 'CREATE');
        BEGIN
            IF NOT v_member THEN
                EXECUTE format('GRANT bw_audit_eraser TO %I', current_user);
            END IF;
            IF NOT v_create THEN
                GRANT CREATE ON SCHEMA public TO bw_audit_eraser;
            END IF;
        EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
            RAISE EXCEPTION 'this migration hands audit_erase_personal() to bw_audit_eraser, which a role that is not a superuser can do only with CREATEROLE and CREATE on schema public (own the database): % (docs/going-to-production.md#roles)', SQLERRM
                USING ERRCODE = 'insufficient_privilege';
        END;
    END IF;
    ALTER FUNCTION "audit_erase_personal"(UUID, UUID, JSONB, TEXT[]) OWNER TO bw_audit_eraser;
    IF NOT v_super THEN
        IF NOT v_create THEN
            REVOKE CREATE ON SCHEMA public FROM bw_audit_eraser;
        END IF;
        IF NOT v_member THEN
            EXECUTE format('REVOKE bw_audit_eraser FROM %I', current_user);
        END IF;
    END IF;
END;
$$;

-- Entries as readers want them: a format-2 entry's personal data (while not erased)
-- in the columns where a format-1 entry has it. Read-only; the API's GET /v1/audit and
-- subject export read through the same join.
CREATE VIEW "audit_entries" AS
SELECT a.id, a.tenant_id, a.seq, a.event_id, a.occurred_at, a.recorded_at, a.actor_type,
       coalesce(a.actor_id, p.actor_id) AS actor_id, a.action, a.resource_type,
       coalesce(a.resource_id, p.resource_id) AS resource_id,
       coalesce(a.before_state, p.before_state) AS before_state,
       coalesce(a.after_state, p.after_state) AS after_state,
       coalesce(a.metadata, p.metadata) AS metadata,
       coalesce(a.reason, p.reason) AS reason, a.confidence,
       coalesce(a.request_id, p.request_id) AS request_id,
       coalesce(a.ip, p.ip) AS ip, coalesce(a.user_agent, p.user_agent) AS user_agent,
       a.severity, a.prev_hash, a.hash, a.format, a.pd_digest
  FROM audit_log a
  LEFT JOIN audit_personal_data p ON p.tenant_id = a.tenant_id AND p.seq = a.seq;
