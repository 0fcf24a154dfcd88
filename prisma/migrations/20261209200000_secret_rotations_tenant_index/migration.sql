-- Retention's secret-rotations class finds one tenant's expired rotations. The table had
-- no tenant (it is reached through its secret) and an index on rotated_at only, so that
-- search read every tenant's expired rotations, or every rotation of the tenant's
-- secrets, kept or not. Each rotation now carries its secret's tenant, kept equal to it
-- by a foreign key on (tenant_id, secret_id), and (tenant_id, rotated_at) is indexed:
-- the search reads the tenant's expired rotations and nothing else.
ALTER TABLE "secret_rotations" ADD COLUMN "tenant_id" UUID;
UPDATE "secret_rotations" r SET "tenant_id" = s."tenant_id" FROM "secrets" s WHERE s."id" = r."secret_id";
ALTER TABLE "secret_rotations" ALTER COLUMN "tenant_id" SET NOT NULL;

CREATE UNIQUE INDEX "secrets_tenant_id_id_key" ON "secrets"("tenant_id", "id");
ALTER TABLE "secret_rotations" ADD CONSTRAINT "secret_rotations_tenant_id_secret_id_fkey" FOREIGN KEY ("tenant_id", "secret_id") REFERENCES "secrets"("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE INDEX "secret_rotations_tenant_id_rotated_at_idx" ON "secret_rotations"("tenant_id", "rotated_at");
-- Made for retention only (20261206500000), replaced by the index above.
DROP INDEX "secret_rotations_rotated_at_idx";
