/**
 * Reading a tenant's alert channels together with the secret row their `secret://`
 * reference names, in one statement on the shared pg pool: the hot path used to spend
 * three Prisma queries (channels, channel again, secret) per delivery. Nothing here is
 * cached: every read starts after the job asked for it, so a channel removed or a secret
 * rotated applies to the very next alert, and the credential lives only in memory for
 * the call that resolves it (docs/SECURITY.md).
 */
import type pg from 'pg';
import type { MasterKeys } from '../../../lib/crypto/master-keys.js';
import { resolveSecretFromRow } from '../../../lib/secrets/secrets.js';
import { createBatcher } from './batcher.js';
import type { ChannelTarget } from '../sending/channels/types.js';

export interface ChannelRow {
  id: string;
  name: string;
  type: ChannelTarget['type'];
  target: string;
  secretRef: string;
  /** The secrets row named by secretRef, when there is one; resolve with credentialOf. */
  secret: { encryptedValue: string; keyId: string } | null;
}

export type ChannelRaw = { id: string; name: string; type: ChannelTarget['type']; target: string; secret_ref: string; encrypted_value: string | null; key_id: string | null };

// 'secret://' is 9 characters; a malformed reference simply joins no secret and
// credentialOf reports it exactly as resolveSecretRef would.
const SECRET_JOIN = `LEFT JOIN secrets s ON s.tenant_id = c.tenant_id AND s.name = substr(c.secret_ref, 10) AND c.secret_ref LIKE 'secret://%'`;
const COLUMNS = 'c.id, c.name, c.type, c.target, c.secret_ref, s.encrypted_value, s.key_id';

const toRow = (r: ChannelRaw): ChannelRow => ({
  id: r.id,
  name: r.name,
  type: r.type,
  target: r.target,
  secretRef: r.secret_ref,
  secret: r.encrypted_value !== null && r.key_id !== null ? { encryptedValue: r.encrypted_value, keyId: r.key_id } : null,
});

export type ChannelKey = { tenantId: string; severity: string };

/**
 * A SELECT of the enabled channels that take a severity, by name, for many (tenant,
 * severity) keys given as two array parameters; each row carries `k`, the 1-based
 * position of its key. Also used inside the ledger's batched statement.
 */
export function channelsForKeysSql(tenants: string, severities: string): string {
  return `SELECT k.k::int AS k, ${COLUMNS}
FROM unnest(${tenants}::uuid[], ${severities}::text[]) WITH ORDINALITY AS k(tenant_id, severity, k)
JOIN alert_channels c ON c.tenant_id = k.tenant_id AND c.enabled AND k.severity = ANY(c.severities)
${SECRET_JOIN}`;
}

/** Key arrays for channelsForKeysSql, each distinct key once, and the mapping back. */
export function channelKeyParams(keys: ChannelKey[]) {
  const id = (k: ChannelKey) => `${k.tenantId}|${k.severity}`;
  const distinct = [...new Map(keys.map((k) => [id(k), k])).values()];
  return {
    tenants: distinct.map((k) => k.tenantId),
    severities: distinct.map((k) => k.severity),
    /** Rows of the SELECT (ordered by k, name) back to one list per requested key. */
    split(rows: Array<ChannelRaw & { k: number }>): ChannelRow[][] {
      const byKey = new Map<string, ChannelRow[]>();
      for (const r of rows) {
        const key = id(distinct[r.k - 1]!);
        const list = byKey.get(key);
        if (list) list.push(toRow(r));
        else byKey.set(key, [toRow(r)]);
      }
      return keys.map((k) => byKey.get(id(k)) ?? []);
    },
  };
}

async function channelsForKeys(db: Pick<pg.Pool, 'query'>, keys: ChannelKey[]): Promise<ChannelRow[][]> {
  const params = channelKeyParams(keys);
  const res = await db.query<ChannelRaw & { k: number }>(`${channelsForKeysSql('$1', '$2')} ORDER BY k, c.name`, [params.tenants, params.severities]);
  return params.split(res.rows);
}

export type ChannelsFor = (tenantId: string, severity: string) => Promise<ChannelRow[]>;

/** Reads a tenant's enabled channels for a severity, batched with other jobs' reads. */
export function createChannelReader(db: Pick<pg.Pool, 'query'>): ChannelsFor {
  const read = createBatcher<ChannelKey, ChannelRow[]>({ maxBatch: 200, run: (keys) => channelsForKeys(db, keys) });
  return (tenantId, severity) => read({ tenantId, severity });
}

/** One channel of the tenant, enabled or not (a queued delivery goes to the channel it named). */
export async function channelById(db: Pick<pg.Pool, 'query'>, tenantId: string, channelId: string): Promise<ChannelRow | undefined> {
  const res = await db.query<ChannelRaw>(`SELECT ${COLUMNS} FROM alert_channels c ${SECRET_JOIN} WHERE c.tenant_id = $1 AND c.id = $2`, [tenantId, channelId]);
  return res.rows[0] && toRow(res.rows[0]);
}

/** The channel's credential, decrypted now; throws the errors resolveSecretRef throws. */
export function credentialOf(keys: MasterKeys, tenantId: string, channel: ChannelRow): string {
  return resolveSecretFromRow(keys, tenantId, channel.secretRef, channel.secret);
}
