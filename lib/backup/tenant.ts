/**
 * A tenant backup: one tenant alone. Its rows of every tenant-scoped table
 * (tenant-tables.ts) as NDJSON, one stream of encrypted parts per table
 * (`{env}/{id}/tables/{table}/part-00001.age`), all read in one snapshot; then its
 * objects under `tenant/{id}/`, copied as an objects backup copies them (objects.ts).
 * The manifest's `tables` holds the tenant's row count per table and
 * `auditChainHeads` its chain head, read in the same snapshot as the rows.
 *
 * Configuration travels without secret values: settings and channels as stored
 * (channels hold `secret://NAME` references), secrets as their Fernet ciphertext, API
 * keys as hashes; the master keys that open the secrets are never in a backup.
 */
import type { BackupContext, OnProgress } from './context.js';
import { tablePartKey } from './layout.js';
import type { ManifestObjects, PartRecord } from './manifest.js';
import { copyObjects } from './objects.js';
import { writeParts } from './parts.js';
import { readServerFacts, type DatabaseFacts } from './snapshot.js';
import { exportTenantRows, withSnapshot } from './tenant-export.js';
import { tenantPrefix } from '../storage/keys.js';

export async function backupTenant(
  ctx: BackupContext,
  o: {
    backupId: string;
    databaseUrl: string;
    recipient: string;
    tenantId: string;
    objectsPerPart?: number | undefined;
    onProgress?: OnProgress;
  },
): Promise<{ parts: PartRecord[]; facts: DatabaseFacts; objects: ManifestObjects }> {
  const parts: PartRecord[] = [];
  let uploaded = 0;
  const facts = await withSnapshot(o.databaseUrl, async (client) => {
    const tables = await exportTenantRows(client, o.tenantId, async (table, ndjson) => {
      const written = await writeParts(ctx.storage, ndjson, {
        stream: table.name,
        keyOf: (n) => tablePartKey(ctx.config.env, o.backupId, table.name, n),
        recipient: o.recipient,
        partSize: ctx.config.backupPartSizeBytes,
        onProgress:
          o.onProgress && ((e) => o.onProgress!({ ...e, phase: `rows of ${table.name}`, done: uploaded + e.done })),
      });
      parts.push(...written);
      uploaded += written.reduce((n, p) => n + p.size, 0);
    });
    const head = await client.query<{ seq: string; hash: string }>(
      'SELECT last_seq::text AS seq, last_hash AS hash FROM audit_chain_heads WHERE tenant_id = $1::uuid',
      [o.tenantId],
    );
    return {
      ...(await readServerFacts(client)),
      tables,
      auditChainHeads: head.rows.map((h) => ({ tenantId: o.tenantId, seq: h.seq, hash: h.hash })),
    };
  });
  const copied = await copyObjects(ctx, {
    backupId: o.backupId,
    recipient: o.recipient,
    source: tenantPrefix(o.tenantId),
    objectsPerPart: o.objectsPerPart,
    onProgress: o.onProgress && ((e) => o.onProgress!({ ...e, done: uploaded + e.done })),
  });
  return { parts: [...parts, ...copied.parts], facts, objects: copied.objects };
}
