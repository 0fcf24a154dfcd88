-- audit_purge() for format-2 entries (20261208100000_erasable_audit_entries): their
-- actor_id and resource_id may live in audit_personal_data, so the legal-hold check
-- reads them from there when audit_log holds NULL, and the personal data of every
-- purged entry is deleted with it, in the same statement. Same arguments, checks,
-- result, owner and grants otherwise; the same ownership steps as 20261207700000.
DO $$
DECLARE
    v_super BOOLEAN;
BEGIN
    SELECT rolsuper INTO v_super FROM pg_roles WHERE rolname = current_user;
    IF NOT v_super AND NOT EXISTS (
        SELECT 1 FROM pg_auth_members m
         WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = 'bw_audit_purger')
           AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)) THEN
        BEGIN
            EXECUTE format('GRANT bw_audit_purger TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
            RAISE EXCEPTION 'this migration replaces audit_purge(), owned by bw_audit_purger, which a role that is not a superuser can do only with CREATEROLE: % (docs/going-to-production.md#roles)', SQLERRM
                USING ERRCODE = 'insufficient_privilege';
        END;
        -- Marks the membership as this migration's, to be revoked below.
        PERFORM set_config('bulwark.purger_membership_granted', 'yes', true);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION "audit_purge"(p_tenant UUID, p_receipt UUID, p_security BOOLEAN, p_cutoff TIMESTAMPTZ, p_limit INTEGER)
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
        SELECT a.ctid AS tid FROM audit_log a
         WHERE a.tenant_id = p_tenant AND a.occurred_at < p_cutoff
           AND (a.action LIKE 'security:%') = p_security
           AND NOT EXISTS (
               SELECT 1 FROM legal_holds h
                WHERE h.tenant_id = p_tenant AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now())
                  AND (h.scope = 'all'
                       OR (h.scope = 'actor' AND h.actor_id = coalesce(a.actor_id,
                             (SELECT p.actor_id FROM audit_personal_data p WHERE p.tenant_id = a.tenant_id AND p.seq = a.seq)))
                       OR (h.scope = 'resource' AND h.resource_type = a.resource_type AND h.resource_id = coalesce(a.resource_id,
                             (SELECT p.resource_id FROM audit_personal_data p WHERE p.tenant_id = a.tenant_id AND p.seq = a.seq)))))
         ORDER BY a.occurred_at
         LIMIT p_limit),
    gone AS (
        DELETE FROM audit_log a WHERE a.ctid = ANY (ARRAY(SELECT d.tid FROM doomed d))
        RETURNING a.seq, a.prev_hash, a.hash, a.occurred_at),
    personal AS (
        DELETE FROM audit_personal_data p WHERE p.tenant_id = p_tenant AND p.seq = ANY (ARRAY(SELECT g.seq FROM gone g))
        RETURNING 1),
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

DO $$
BEGIN
    IF current_setting('bulwark.purger_membership_granted', true) = 'yes' THEN
        EXECUTE format('REVOKE bw_audit_purger FROM %I', current_user);
    END IF;
END;
$$;
