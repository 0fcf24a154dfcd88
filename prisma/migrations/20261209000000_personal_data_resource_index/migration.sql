-- GET /v1/audit?resourceId= finds a tenant's entries by resource id in audit_log
-- (format 1, and format 2 when resourceId is not personal) and in audit_personal_data
-- (format 2 for tenants that declare resourceId personal: privacy.personalFields). The
-- first has (tenant_id, resource_id, seq) since 20261206100000; without the same here a
-- filtered page read every personal-data row of the tenant (issue 15, defect 9).
CREATE INDEX IF NOT EXISTS "audit_personal_data_tenant_id_resource_id_seq_idx" ON "audit_personal_data" ("tenant_id", "resource_id", "seq");
