/**
 * What a restore checks on the restored database before it calls itself done: the
 * applied migrations are the backup's and known to this Bulwark; every table's row
 * count and every tenant's audit chain head equal the manifest's; every audit chain
 * verifies entry by entry; audit_log still refuses UPDATE, DELETE and TRUNCATE (its
 * triggers came back with it). Every difference is reported, by name.
 */
import pg from 'pg';
import type { PrismaClient } from '../clients/prisma.js';
import { readMigrationFiles } from '../db/migrations.js';
import { verifyChains } from '../audit/verify.js';
import type { Manifest } from './manifest.js';
import { readFacts } from './snapshot.js';

export const AUDIT_TRIGGERS = [
  'audit_log_no_update_delete',
  'audit_log_no_truncate',
  'audit_log_no_update_delete_statement',
];

export interface CheckReport {
  passed: string[];
  failed: string[];
  /** Migrations this Bulwark has that the restored database lacks (run `bulwark migrate`). */
  pendingMigrations: string[];
}

/**
 * The restored database is not Bulwark's own: the chain walk (which reads through
 * Prisma's raw queries only, every non-text column cast in its SQL) runs on this
 * check's plain connection instead of an application client.
 */
export function rawQueries(client: pg.Client): PrismaClient {
  return {
    $queryRawUnsafe: async (sql: string, ...params: unknown[]) => (await client.query(sql, params)).rows,
  } as unknown as PrismaClient;
}

export async function checkRestored(url: string, manifest: Manifest): Promise<CheckReport> {
  const passed: string[] = [];
  const failed: string[] = [];
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  let pendingMigrations: string[] = [];
  try {
    const facts = await readFacts(client);
    // Migrations: the backup's, and none this code does not know.
    const restored = facts.migrations.map((m) => `${m.name}:${m.checksum}`).join('\n');
    const recorded = manifest.migrations.map((m) => `${m.name}:${m.checksum}`).join('\n');
    if (restored !== recorded) failed.push('migrations: the restored _prisma_migrations differs from the manifest');
    const files = await readMigrationFiles();
    const known = new Map(files.map((f) => [f.name, f.checksum]));
    const unknown = facts.migrations.filter((m) => known.get(m.name) !== m.checksum).map((m) => m.name);
    if (unknown.length)
      failed.push(
        `migrations: ${unknown.join(', ')} unknown to this Bulwark or changed (the backup is from another version; restore with that version)`,
      );
    pendingMigrations = files.filter((f) => !facts.migrations.some((m) => m.name === f.name)).map((f) => f.name);
    if (restored === recorded && !unknown.length)
      passed.push(
        `migrations: ${facts.migrations.length} applied as recorded${pendingMigrations.length ? `, ${pendingMigrations.length} newer pending` : ''}`,
      );
    // Row counts, table by table, both ways.
    const tables = new Set([...Object.keys(manifest.tables), ...Object.keys(facts.tables)]);
    const diffs = [...tables].sort().filter((t) => manifest.tables[t] !== facts.tables[t]);
    for (const t of diffs)
      failed.push(
        `rows: table ${t} has ${facts.tables[t] ?? 'no table'} rows, the manifest says ${manifest.tables[t] ?? 'no table'}`,
      );
    if (!diffs.length) passed.push(`rows: ${tables.size} tables match the manifest's counts`);
    // Chain heads.
    const key = (h: { tenantId: string; seq: string; hash: string }) => `${h.tenantId}:${h.seq}:${h.hash}`;
    const now = new Set(facts.auditChainHeads.map(key));
    const then = new Set(manifest.auditChainHeads.map(key));
    const headDiffs = [
      ...manifest.auditChainHeads.filter((h) => !now.has(key(h))),
      ...facts.auditChainHeads.filter((h) => !then.has(key(h))),
    ];
    for (const h of headDiffs)
      failed.push(`audit chain head of tenant ${h.tenantId} differs from the manifest (seq ${h.seq})`);
    if (!headDiffs.length) passed.push(`audit chain heads: ${manifest.auditChainHeads.length} tenants match`);
    // Append-only triggers.
    const triggers = (
      await client.query<{ tgname: string }>(
        `SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('public.audit_log') AND tgenabled <> 'D'`,
      )
    ).rows.map((r) => r.tgname);
    const missing = AUDIT_TRIGGERS.filter((t) => !triggers.includes(t));
    if (missing.length)
      failed.push(`audit_log is not append-only: trigger(s) ${missing.join(', ')} missing or disabled`);
    else passed.push('audit_log append-only triggers present and enabled');
    // The chains themselves, entry by entry, with the audit verify job's own code.
    const report = await verifyChains(rawQueries(client));
    for (const t of report.tenants.filter((x) => !x.ok))
      failed.push(
        `audit chain of tenant ${t.tenantId} broken at seq ${t.firstBad!.seq} (${t.firstBad!.problem}: ${t.firstBad!.detail})`,
      );
    if (report.ok) passed.push(`audit chains: ${report.tenants.length} verified entry by entry`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return { passed, failed, pendingMigrations };
}
