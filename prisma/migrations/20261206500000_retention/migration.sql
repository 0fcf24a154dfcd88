-- Retention (issue 17): legal holds, receipts, the chain's gap records and the one
-- privileged path through which audit entries ever leave audit_log.
--
-- Two roles, neither able to log in:
--   bw_audit_purger  owns audit_purge() (SECURITY DEFINER) and is the only role
--                         whose DELETE on audit_log the append-only trigger lets
--                         through. Nobody is made a member of it.
--   bw_retention     may EXECUTE audit_purge(). The operator grants it to the role
--                         the retention worker connects as; an application role without
--                         it is refused ("permission denied for function audit_purge").
-- Roles belong to the cluster, not the database: created here only when missing. The
-- migrating role needs CREATEROLE (or to be a superuser): to create them, and, at the
-- end, to hand audit_purge() to bw_audit_purger (a non-superuser must be a member of
-- the new owner for that; it is made one for this transaction only). See
-- docs/going-to-production.md#roles. (Corrected after it was merged: the first text
-- worked only for a superuser; lib/db/migrations.ts accepts that text's checksum.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bw_audit_purger') THEN
        BEGIN
            CREATE ROLE bw_audit_purger NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- made meanwhile by a parallel migration
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bw_retention') THEN
        BEGIN
            CREATE ROLE bw_retention NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'this migration creates the roles bw_audit_purger and bw_retention: run it as a role with CREATEROLE (or a superuser), or have them created first (docs/going-to-production.md#roles)'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- CreateTable
CREATE TABLE "legal_holds" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "scope" VARCHAR(16) NOT NULL,
    "actor_id" VARCHAR(255),
    "resource_type" VARCHAR(100),
    "resource_id" VARCHAR(255),
    "key_prefix" VARCHAR(1024),
    "reason" VARCHAR(500) NOT NULL,
    "until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" VARCHAR(255) NOT NULL,
    "released_at" TIMESTAMPTZ(3),
    "released_by" VARCHAR(255),
    "release_reason" VARCHAR(500),

    CONSTRAINT "legal_holds_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "legal_holds_scope_check" CHECK (
        ("scope" = 'all' AND "actor_id" IS NULL AND "resource_type" IS NULL AND "key_prefix" IS NULL)
        OR ("scope" = 'actor' AND "actor_id" IS NOT NULL)
        OR ("scope" = 'resource' AND "resource_type" IS NOT NULL AND "resource_id" IS NOT NULL)
        OR ("scope" = 'prefix' AND "key_prefix" IS NOT NULL))
);
CREATE INDEX "legal_holds_tenant_id_released_at_idx" ON "legal_holds"("tenant_id", "released_at");
ALTER TABLE "legal_holds" ADD CONSTRAINT "legal_holds_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- CreateTable
CREATE TABLE "retention_receipts" (
    "id" UUID NOT NULL,
    "run_id" VARCHAR(64) NOT NULL,
    "tenant_id" UUID NOT NULL,
    "class" VARCHAR(64) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "ttl_days" INTEGER NOT NULL,
    "cutoff" TIMESTAMPTZ(3) NOT NULL,
    "policy" JSONB NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "deleted" BIGINT NOT NULL DEFAULT 0,
    "bytes" BIGINT NOT NULL DEFAULT 0,
    "first_seq" BIGINT,
    "last_seq" BIGINT,
    "oldest" TIMESTAMPTZ(3),
    "newest" TIMESTAMPTZ(3),
    "digest" CHAR(64) NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    "held" BIGINT NOT NULL DEFAULT 0,
    "holds" JSONB NOT NULL DEFAULT '[]',
    "pending" JSONB,
    "error" VARCHAR(500),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "retention_receipts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "retention_receipts_status_check" CHECK ("status" IN ('running', 'done'))
);
CREATE INDEX "retention_receipts_tenant_id_started_at_idx" ON "retention_receipts"("tenant_id", "started_at");
-- One unfinished receipt per tenant and class: a run killed half-way is finished by the
-- next one, under the same cutoff, instead of a second receipt starting beside it.
CREATE UNIQUE INDEX "retention_receipts_running_key" ON "retention_receipts"("tenant_id", "class") WHERE "status" = 'running';
ALTER TABLE "retention_receipts" ADD CONSTRAINT "retention_receipts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- CreateTable
-- Where entries left a tenant's chain: seqs first_seq..last_seq are gone; prev_hash is
-- the prev_hash first_seq had (the hash of the entry before the run, or the genesis
-- hash), last_hash the hash last_seq had, which the next remaining entry's prev_hash
-- must equal. Gaps starting at seq 1 are the chain's new starting point.
CREATE TABLE "audit_chain_gaps" (
    "tenant_id" UUID NOT NULL,
    "first_seq" BIGINT NOT NULL,
    "last_seq" BIGINT NOT NULL,
    "prev_hash" CHAR(64) NOT NULL,
    "last_hash" CHAR(64) NOT NULL,
    "entries" INTEGER NOT NULL,
    "receipt_id" UUID NOT NULL,
    "purged_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_chain_gaps_pkey" PRIMARY KEY ("tenant_id", "first_seq"),
    CONSTRAINT "audit_chain_gaps_range_check" CHECK ("first_seq" >= 1 AND "last_seq" >= "first_seq" AND "entries" = "last_seq" - "first_seq" + 1)
);
ALTER TABLE "audit_chain_gaps" ADD CONSTRAINT "audit_chain_gaps_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Indexes so that each class's purge finds what expired through its time, not by
-- reading what is kept (alert_ledger already has (tenant_id, received_at)).
CREATE INDEX "api_keys_tenant_id_expires_at_idx" ON "api_keys"("tenant_id", "expires_at");
CREATE INDEX "api_keys_tenant_id_revoked_at_idx" ON "api_keys"("tenant_id", "revoked_at") WHERE "revoked_at" IS NOT NULL;
CREATE INDEX "secret_rotations_rotated_at_idx" ON "secret_rotations"("rotated_at");

-- The append-only trigger function, now with its one exemption: a DELETE executed as
-- bw_audit_purger, which only happens inside audit_purge(). UPDATE and TRUNCATE
-- stay refused for everyone.
CREATE OR REPLACE FUNCTION "audit_log_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = 'bw_audit_purger' THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit entries can only be inserted; retention purges them through audit_purge(), see docs/jobs/audit-write.md';
END;
$$;

-- Gap records are written only by audit_purge() and never changed.
CREATE FUNCTION "audit_chain_gaps_guard"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND current_user = 'bw_audit_purger' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_chain_gaps is written only by audit_purge(): % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "audit_chain_gaps_guard_row"
    BEFORE INSERT OR UPDATE OR DELETE ON "audit_chain_gaps"
    FOR EACH ROW EXECUTE FUNCTION "audit_chain_gaps_guard"();
CREATE TRIGGER "audit_chain_gaps_guard_truncate"
    BEFORE TRUNCATE ON "audit_chain_gaps"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_chain_gaps_guard"();

-- The purge. Deletes at most p_limit entries of one tenant that occurred before
-- p_cutoff, ordinary (p_security false) or security:* ones (true), that no active
-- legal hold covers, and records the runs of seqs they leave as gaps. It refuses:
--   * a cutoff younger than the tenant's own TTL (retention.defaultDays or
--     retention.securityDays from tenant_settings, read here, not from the caller);
--   * a receipt that is not this tenant's running receipt for this class and cutoff,
--     so every deleted entry is accounted for by a receipt.
-- Returns the deleted entries' seq and hash, in seq order (the caller's receipt digest).
CREATE FUNCTION "audit_purge"(p_tenant UUID, p_receipt UUID, p_security BOOLEAN, p_cutoff TIMESTAMPTZ, p_limit INTEGER)
RETURNS TABLE ("seq" BIGINT, "hash" CHAR(64), "occurred_at" TIMESTAMPTZ)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_days INTEGER;
    v_floor TIMESTAMPTZ;
    v_class TEXT := CASE WHEN p_security THEN 'audit:security' ELSE 'audit' END;
BEGIN
    IF p_tenant IS NULL OR p_receipt IS NULL OR p_security IS NULL OR p_cutoff IS NULL THEN
        RAISE EXCEPTION 'audit_purge: every argument is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 10000 THEN
        RAISE EXCEPTION 'audit_purge: p_limit must be from 1 to 10000, not %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT CASE WHEN jsonb_typeof(s.settings #> ARRAY['retention', CASE WHEN p_security THEN 'securityDays' ELSE 'defaultDays' END]) = 'number'
                THEN (s.settings #>> ARRAY['retention', CASE WHEN p_security THEN 'securityDays' ELSE 'defaultDays' END])::numeric::int
                ELSE CASE WHEN p_security THEN 365 ELSE 90 END END
      INTO v_days FROM tenant_settings s WHERE s.tenant_id = p_tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_purge: no tenant %', p_tenant USING ERRCODE = 'no_data_found';
    END IF;
    v_floor := now() - make_interval(days => greatest(v_days, 1));
    IF p_cutoff > v_floor THEN
        RAISE EXCEPTION 'audit_purge: cutoff % is younger than tenant %''s % day TTL allows (at most %)', p_cutoff, p_tenant, v_days, v_floor
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM retention_receipts r
      WHERE r.id = p_receipt AND r.tenant_id = p_tenant AND r.class = v_class AND r.status = 'running' AND r.cutoff = p_cutoff;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_purge: % is not tenant %''s running % receipt for cutoff %', p_receipt, p_tenant, v_class, p_cutoff
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY
    WITH doomed AS (
        SELECT a.id FROM audit_log a
         WHERE a.tenant_id = p_tenant AND a.occurred_at < p_cutoff
           AND (a.action LIKE 'security:%') = p_security
           AND NOT EXISTS (
               SELECT 1 FROM legal_holds h
                WHERE h.tenant_id = p_tenant AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now())
                  AND (h.scope = 'all'
                       OR (h.scope = 'actor' AND h.actor_id = a.actor_id)
                       OR (h.scope = 'resource' AND h.resource_type = a.resource_type AND h.resource_id = a.resource_id)))
         ORDER BY a.occurred_at
         LIMIT p_limit),
    gone AS (
        DELETE FROM audit_log a USING doomed d WHERE a.id = d.id
        RETURNING a.seq, a.prev_hash, a.hash, a.occurred_at),
    runs AS (
        SELECT g.seq, g.prev_hash, g.hash, g.seq - row_number() OVER (ORDER BY g.seq) AS run FROM gone g),
    gaps AS (
        INSERT INTO audit_chain_gaps (tenant_id, first_seq, last_seq, prev_hash, last_hash, entries, receipt_id)
        SELECT p_tenant, min(r.seq), max(r.seq), (array_agg(r.prev_hash ORDER BY r.seq))[1],
               (array_agg(r.hash ORDER BY r.seq DESC))[1], count(*)::int, p_receipt
          FROM runs r GROUP BY r.run
        RETURNING 1)
    SELECT g.seq, g.hash::CHAR(64), g.occurred_at FROM gone g ORDER BY g.seq;
END;
$$;

REVOKE ALL ON FUNCTION "audit_purge"(UUID, UUID, BOOLEAN, TIMESTAMPTZ, INTEGER) FROM PUBLIC;
-- Granted while the migrating role still owns it: the grant moves with the ownership.
GRANT EXECUTE ON FUNCTION "audit_purge"(UUID, UUID, BOOLEAN, TIMESTAMPTZ, INTEGER) TO bw_retention;
GRANT SELECT, DELETE ON "audit_log" TO bw_audit_purger;
GRANT SELECT ON "tenant_settings", "legal_holds", "retention_receipts" TO bw_audit_purger;
GRANT SELECT, INSERT ON "audit_chain_gaps" TO bw_audit_purger;
GRANT USAGE ON SCHEMA public TO bw_audit_purger;

-- Hand the function to bw_audit_purger. A superuser may do so outright. Anyone else
-- must be a member of the new owner, which must have CREATE on the schema: both are
-- granted for this transaction only (with CREATEROLE; the schema's owner, the
-- database owner since Postgres 15, grants CREATE) and revoked again, so afterwards
-- nobody is a member of bw_audit_purger and it can create nothing.
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
             WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = 'bw_audit_purger')
               AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user));
        v_create := has_schema_privilege('bw_audit_purger', 'public', 'CREATE');
        BEGIN
            IF NOT v_member THEN
                EXECUTE format('GRANT bw_audit_purger TO %I', current_user);
            END IF;
            IF NOT v_create THEN
                GRANT CREATE ON SCHEMA public TO bw_audit_purger;
            END IF;
        EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
            RAISE EXCEPTION 'this migration hands audit_purge() to bw_audit_purger, which a role that is not a superuser can do only with CREATEROLE and CREATE on schema public (own the database): % (docs/going-to-production.md#roles)', SQLERRM
                USING ERRCODE = 'insufficient_privilege';
        END;
    END IF;
    ALTER FUNCTION "audit_purge"(UUID, UUID, BOOLEAN, TIMESTAMPTZ, INTEGER) OWNER TO bw_audit_purger;
    IF NOT v_super THEN
        IF NOT v_create THEN
            REVOKE CREATE ON SCHEMA public FROM bw_audit_purger;
        END IF;
        IF NOT v_member THEN
            EXECUTE format('REVOKE bw_audit_purger FROM %I', current_user);
        END IF;
    END IF;
END;
$$;
