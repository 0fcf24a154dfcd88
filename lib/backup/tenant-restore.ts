/**
 * Restoring a tenant backup: one tenant into a scratch database (new, or empty), never
 * over a database that holds anything. The schema is rebuilt with exactly the
 * migrations the backup records (all must be known to this Bulwark, unchanged), the
 * rows loaded in one transaction (tenant-load.ts), then checked: each table's count of
 * the tenant's rows and the tenant's audit chain head equal the manifest's, its chain
 * verifies entry by entry, audit_log refuses changes as before. Its objects go where
 * `objectsInto` says, and only when it says (objects-restore.ts).
 */
import pg from 'pg';
import { ConflictError } from '../errors.js';
import { migrate, readMigrationFiles } from '../db/migrations.js';
import { verifyChains } from '../audit/verify.js';
import type { BackupContext, OnProgress } from './context.js';
import { backupKeys } from './keys.js';
import type { Manifest } from './manifest.js';
import { AUDIT_TRIGGERS, rawQueries } from './restore-checks.js';
import { createDatabase, dropDatabase, resolveTarget, targetState } from './target.js';
import { loadTenantRows } from './tenant-load.js';
import { tenantRowsSql, tenantTables } from './tenant-tables.js';

export interface TenantRestoreResult {
  target: string;
  checks: string[];
  failed: string[];
  pendingMigrations: string[];
}

export async function restoreTenantRows(
  ctx: BackupContext,
  manifest: Manifest,
  o: { into: string; onProgress?: OnProgress },
): Promise<TenantRestoreResult> {
  const target = resolveTarget(ctx.config, o.into);
  const files = await readMigrationFiles();
  const known = new Map(files.map((f) => [f.name, f.checksum]));
  const unknown = manifest.migrations.filter((m) => known.get(m.name) !== m.checksum).map((m) => m.name);
  if (unknown.length)
    throw new ConflictError(
      `backup ${manifest.id} was taken with migration(s) ${unknown.join(', ')} unknown to this Bulwark or changed: restore it with the Bulwark version that took it (${manifest.bulwarkVersion})`,
    );
  const { identities } = await backupKeys(ctx.config);
  const relations = await targetState(target.url);
  if (relations !== undefined && relations > 0)
    throw new ConflictError(
      `database ${target.name} is not empty: a tenant restore goes into a new or empty database (a scratch database), never over one in use`,
    );
  if (relations === undefined) await createDatabase(target.url);
  const client = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await migrate(target.url, {
      only: new Set(manifest.migrations.map((m) => m.name)),
      urlVariable: 'DIRECT_DATABASE_URL (or --into)',
    });
    await client.connect();
    await client.query('BEGIN');
    await loadTenantRows(client, ctx.storage, manifest, identities, o.onProgress);
    await client.query('COMMIT');
  } catch (err) {
    await client.end().catch(() => undefined);
    // Nothing of the tenant was committed; a database this restore created goes again.
    if (relations === undefined) await dropDatabase(target.url).catch(() => undefined);
    throw err;
  }
  try {
    o.onProgress?.({ phase: 'checking', done: 0 });
    const report = await checkTenant(client, manifest);
    const pendingMigrations = files
      .filter((f) => !manifest.migrations.some((m) => m.name === f.name))
      .map((f) => f.name);
    return { target: target.name, ...report, pendingMigrations };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The restored tenant against its manifest: row counts, chain head, chain, triggers. */
async function checkTenant(client: pg.Client, manifest: Manifest): Promise<{ checks: string[]; failed: string[] }> {
  const tenantId = manifest.tenantId!;
  const checks: string[] = [];
  const failed: string[] = [];
  const { tables } = await tenantTables(client);
  const diffs: string[] = [];
  for (const t of tables) {
    if (!Object.hasOwn(manifest.tables, t.name)) continue;
    const n = Number(
      (await client.query<{ n: string }>(tenantRowsSql(t, 'count(*)::text AS n'), [tenantId])).rows[0]!.n,
    );
    if (n !== manifest.tables[t.name])
      diffs.push(`rows: table ${t.name} has ${n} of the tenant's rows, the manifest says ${manifest.tables[t.name]}`);
  }
  failed.push(...diffs);
  if (!diffs.length) checks.push(`rows: ${Object.keys(manifest.tables).length} tables match the manifest's counts`);
  const head = (
    await client.query<{ seq: string; hash: string }>(
      'SELECT last_seq::text AS seq, last_hash AS hash FROM audit_chain_heads WHERE tenant_id = $1::uuid',
      [tenantId],
    )
  ).rows[0];
  const expected = manifest.auditChainHeads[0];
  if (expected && (head?.seq !== expected.seq || head?.hash !== expected.hash))
    failed.push(
      `audit chain head of tenant ${tenantId} differs from the manifest (seq ${head?.seq ?? 'none'}, expected ${expected.seq})`,
    );
  else checks.push('audit chain head: matches the manifest');
  const report = await verifyChains(rawQueries(client), { tenantId });
  for (const t of report.tenants.filter((x) => !x.ok))
    failed.push(`audit chain of tenant ${t.tenantId} broken at seq ${t.firstBad!.seq} (${t.firstBad!.problem})`);
  if (report.ok) checks.push('audit chain: verified entry by entry');
  const triggers = (
    await client.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('public.audit_log') AND tgenabled <> 'D'`,
    )
  ).rows.map((r) => r.tgname);
  const missing = AUDIT_TRIGGERS.filter((t) => !triggers.includes(t));
  if (missing.length) failed.push(`audit_log is not append-only: trigger(s) ${missing.join(', ')} missing`);
  else checks.push('audit_log append-only triggers present and enabled');
  return { checks, failed };
}
