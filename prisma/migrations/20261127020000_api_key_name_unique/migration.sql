-- An API key's name is unique among its tenant's keys that are not revoked, so
-- `bulwark apikey list` never shows two live keys an operator cannot tell apart. Not
-- among all keys: rotation gives the new key the old one's name, and revoked keys stay
-- listed for the record. A key in its rotation grace period has revoked_at set (in the
-- future), so its replacement holds the name; an expired key never revoked still holds
-- it (an index cannot ask what time it is). Names are compared exactly, as they are
-- free text. (A partial index cannot be written in schema.prisma; it lives here only.)
--
-- Keys created before this migration may share a name. The name is only a label
-- (revoke and rotate take a key's prefix or id), so rather than fail the upgrade or
-- revoke a key in use, each such group keeps its name on its newest key, and every
-- older key gets its display prefix appended, e.g. "ingest (bwk_Ab3dE9xY)" (the name
-- cut to fit 100 characters). No key stops working; `apikey list` shows the new names.
UPDATE "api_keys" AS k
   SET "name" = left(k."name", 100 - length(k."display_prefix") - 3) || ' (' || k."display_prefix" || ')'
  FROM (SELECT "id", row_number() OVER (PARTITION BY "tenant_id", "name" ORDER BY "created_at" DESC, "id" DESC) AS n
          FROM "api_keys" WHERE "revoked_at" IS NULL) AS d
 WHERE k."id" = d."id" AND d.n > 1;

CREATE UNIQUE INDEX "api_keys_tenant_id_name_active_key" ON "api_keys" ("tenant_id", "name") WHERE "revoked_at" IS NULL;
