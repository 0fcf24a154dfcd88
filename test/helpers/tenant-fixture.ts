/**
 * A tenant with rows in every tenant-scoped table (secrets, their rotations, API keys,
 * channels, alert ledger and deliveries, holds, receipts, chain gaps), written with
 * plain SQL as a superuser, and a checksum of one tenant's rows per table, for tenant
 * backup round trips.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { tenantRowsSql, tenantTables } from '../../lib/backup/tenant-tables.js';

/** Tables every filled tenant has rows in (besides those its creation and audit entries fill). */
export const FILLED_TABLES = [
  'alert_channels',
  'alert_deliveries',
  'alert_ledger',
  'api_keys',
  'audit_chain_gaps',
  'legal_holds',
  'retention_receipts',
  'secret_rotations',
  'secrets',
];

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function fillTenant(url: string, tenantId: string): Promise<void> {
  await withClient(url, async (c) => {
    const tag = randomBytes(3).toString('hex');
    const secret = randomUUID();
    await c.query(
      `INSERT INTO secrets (id, tenant_id, name, encrypted_value, key_id) VALUES ($1, $2, $3, 'gAAAAA-fernet-ciphertext', 'k1')`,
      [secret, tenantId, `hook-${tag}`],
    );
    await c.query(
      `INSERT INTO secret_rotations (secret_id, tenant_id, from_version, to_version) VALUES ($1, $2, 1, 2), ($1, $2, 2, 3)`,
      [secret, tenantId],
    );
    await c.query(
      `INSERT INTO api_keys (id, tenant_id, name, display_prefix, hash, scopes, expires_at)
       VALUES ($1, $2, $3, 'bw_live_x', $4, ARRAY['audit:write','admin'], now() + interval '30 days')`,
      [randomUUID(), tenantId, `key-${tag}`, randomBytes(32).toString('hex')],
    );
    const channel = randomUUID();
    await c.query(
      `INSERT INTO alert_channels (id, tenant_id, name, type, target, secret_ref, severities)
       VALUES ($1, $2, $3, 'webhook', 'https://hooks.example.com/x', 'secret://hook', ARRAY['high','critical'])`,
      [channel, tenantId, `ops-${tag}`],
    );
    for (let i = 0; i < 3; i++) {
      const alert = randomUUID();
      await c.query(
        `INSERT INTO alert_ledger (id, tenant_id, type, severity, title, body, labels, group_key, user_id, occurred_at, received_at, outcome)
         VALUES ($1, $2, 'disk.full', 'high', 'Disk "almost" full\n√', 'body with \\ and ''quotes''', '{"a":[1,2.50,null],"b":{"c":"ü"}}', 'g', 'u-1',
                 '2026-12-01T10:00:00.123Z', now(), 'delivered')`,
        [alert, tenantId],
      );
      await c.query(
        `INSERT INTO alert_deliveries (alert_id, channel_id, outcome, attempts) VALUES ($1, $2, 'delivered', 1)`,
        [alert, channel],
      );
    }
    await c.query(
      `INSERT INTO legal_holds (id, tenant_id, scope, reason, created_by) VALUES ($1, $2, 'all', 'litigation', 'op')`,
      [randomUUID(), tenantId],
    );
    const receipt = randomUUID();
    await c.query(
      `INSERT INTO retention_receipts (id, run_id, tenant_id, class, status, ttl_days, cutoff, policy, deleted)
       VALUES ($1, 'run-1', $2, 'audit', 'done', 90, now(), '{"ttl":90}', 12)`,
      [receipt, tenantId],
    );
    // Gap records accept rows from audit_purge() only: written here with triggers off.
    await c.query('BEGIN');
    await c.query('SET LOCAL session_replication_role = replica');
    await c.query(
      `INSERT INTO audit_chain_gaps (tenant_id, first_seq, last_seq, prev_hash, last_hash, entries, receipt_id)
       VALUES ($1, 1000001, 1000002, $2, $3, 2, $4)`,
      [tenantId, 'a'.repeat(64), 'b'.repeat(64), receipt],
    );
    await c.query('COMMIT');
  });
}

/** table → `count:md5` of one tenant's rows (every column, in a fixed order). */
export async function tenantChecksums(url: string, tenantId: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const out: Record<string, string> = {};
    for (const t of (await tenantTables(c)).tables) {
      const sql = tenantRowsSql(
        t,
        `count(*)::int AS n, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS sum`,
      );
      const r = (await c.query<{ n: number; sum: string }>(sql, [tenantId])).rows[0]!;
      out[t.name] = `${r.n}:${r.sum}`;
    }
    return out;
  });
}
