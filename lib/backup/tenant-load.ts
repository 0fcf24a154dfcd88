/**
 * Loading a tenant backup's rows into a database that has the schema (tenant-restore.ts
 * makes it): table by table in foreign-key order, each table's NDJSON (checked part by
 * part on the way) handed back to Postgres in batches through `json_populate_recordset`,
 * so every value is parsed by Postgres as it printed it, all in one transaction. Then
 * the serial sequences are moved past the loaded ids, so the database can be written
 * to afterwards.
 *
 * Gap records (audit_chain_gaps) accept rows only from audit_purge(), erasure records
 * (audit_erasures) only from audit_erase_personal(); the restore loads
 * them with triggers off for that one statement (`session_replication_role = replica`,
 * which needs a superuser, as pg_restore of the same rows does).
 */
import pg from 'pg';
import type { BackupStore } from './context.js';
import type { Manifest, PartRecord } from './manifest.js';
import { readStream } from './parts.js';
import { tenantTables } from './tenant-tables.js';
import type { OnProgress } from './context.js';

const q = pg.escapeIdentifier;
/** Lines per INSERT; also bounded by bytes so a batch of wide rows stays small. */
const BATCH_LINES = 500;
const BATCH_BYTES = 4 * 1024 * 1024;
const GUARDED = new Set(['audit_chain_gaps', 'audit_erasures']);

async function insertBatch(client: pg.ClientBase, table: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const guarded = GUARDED.has(table);
  if (guarded) await client.query('SET LOCAL session_replication_role = replica');
  await client.query(`INSERT INTO ${q(table)} SELECT * FROM json_populate_recordset(NULL::${q(table)}, $1::json)`, [
    `[${lines.join(',')}]`,
  ]);
  if (guarded) await client.query('SET LOCAL session_replication_role = origin');
}

/** Load every table stream of the manifest for its tenant; returns rows loaded per table. */
export async function loadTenantRows(
  client: pg.ClientBase,
  store: BackupStore,
  manifest: Manifest,
  identities: readonly string[],
  onProgress?: OnProgress,
): Promise<Record<string, number>> {
  const tenantId = manifest.tenantId!;
  const { tables } = await tenantTables(client);
  const known = new Set(tables.map((t) => t.name));
  const streams = new Map<string, PartRecord[]>();
  for (const p of manifest.parts)
    if (Object.hasOwn(manifest.tables, p.stream)) streams.set(p.stream, [...(streams.get(p.stream) ?? []), p]);
  const unknown = [...streams.keys()].filter((t) => !known.has(t));
  if (unknown.length)
    throw new Error(`the backup holds table(s) ${unknown.join(', ')} that the restored schema does not have`);
  // A fresh database seeds one tenant (the system tenant): its seed rows give way to the backup's.
  if ((await client.query('SELECT 1 FROM tenants WHERE id = $1::uuid', [tenantId])).rowCount) {
    for (const t of [...tables].reverse())
      if (t.name !== 'audit_log' && !GUARDED.has(t.name))
        await client.query(`DELETE FROM ${q(t.name)} r WHERE ${t.condition}`, [tenantId]);
  }
  const loaded: Record<string, number> = {};
  const total = manifest.parts.reduce((n, p) => n + p.size, 0);
  let before = 0;
  for (const t of tables) {
    const parts = streams.get(t.name);
    if (!parts) continue;
    loaded[t.name] = 0;
    let batch: string[] = [];
    let batchBytes = 0;
    let rest = '';
    const progress: OnProgress | undefined =
      onProgress && ((e) => onProgress({ phase: `loading ${t.name}`, done: before + e.done, total }));
    for await (const chunk of readStream(store, parts, identities, progress)) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line === '') continue;
        batch.push(line);
        batchBytes += line.length;
        if (batch.length >= BATCH_LINES || batchBytes >= BATCH_BYTES) {
          await insertBatch(client, t.name, batch);
          loaded[t.name]! += batch.length;
          batch = [];
          batchBytes = 0;
        }
      }
    }
    if (rest !== '') batch.push(rest);
    await insertBatch(client, t.name, batch);
    loaded[t.name]! += batch.length;
    before += parts.reduce((n, p) => n + p.size, 0);
  }
  await advanceSequences(client);
  return loaded;
}

/** Every serial or identity column's sequence set past the largest id loaded. */
async function advanceSequences(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ t: string; c: string; s: string }>(
    `SELECT table_name AS t, column_name AS c, pg_get_serial_sequence(quote_ident(table_name), column_name) AS s
       FROM information_schema.columns
      WHERE table_schema = 'public' AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')`,
  );
  for (const r of rows) {
    if (!r.s) continue;
    await client.query(`SELECT setval($1, m) FROM (SELECT max(${q(r.c)}) AS m FROM ${q(r.t)}) x WHERE m IS NOT NULL`, [
      r.s,
    ]);
  }
}
