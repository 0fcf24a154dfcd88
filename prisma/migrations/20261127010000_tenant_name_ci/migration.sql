-- Tenant names are unique without regard to case: "acme" and "ACME" could both be
-- created, and an operator reading `bulwark tenant list` or an alert could not tell
-- which was meant. Names hold ASCII letters only (lib/tenants.ts), so lower() gives the
-- same answer under every collation. The exact-match "tenants_name_key" stays: it is
-- what schema.prisma's @unique describes. (An index on an expression cannot be written
-- in schema.prisma; it lives here only.)
--
-- A database that already holds names differing only in case cannot get this index.
-- Rather than rename or drop a tenant behind the operator's back, the migration then
-- fails naming every such group and the fix; the runner rolls it back whole, so the
-- database is left as it was and `bulwark migrate` can be run again after the rename.
DO $$
DECLARE
  clashes TEXT;
BEGIN
  -- Byte order ("C"): the message reads the same under every database collation.
  SELECT string_agg(grp, '; ' ORDER BY grp COLLATE "C") INTO clashes
    FROM (SELECT string_agg(format('"%s" (id %s)', "name", "id"), ', ' ORDER BY "name" COLLATE "C") AS grp
            FROM "tenants" GROUP BY lower("name") HAVING count(*) > 1) AS g;
  IF clashes IS NOT NULL THEN
    RAISE EXCEPTION 'tenant names must be unique without regard to case, but these differ only in case: %. Rename all but one tenant of each group (UPDATE tenants SET name = ''<new name>'' WHERE id = ''<id>''), then run bulwark migrate again', clashes;
  END IF;
END $$;

CREATE UNIQUE INDEX "tenants_name_lower_key" ON "tenants" (lower("name"));
