/**
 * Reading a tenant's alert channels together with the secret row their `secret://`
 * reference names, in one statement on the shared pg pool: the hot path used to spend
 * three Prisma queries (channels, channel again, secret) per delivery. Nothing here is
 * cached: every read starts after the job asked for it, so a channel removed or a secret
 * rotated applies to the very next alert, and the credential lives only in memory for
 * the call that resolves it (docs/SECURITY.md).
 */
import type pg from 'pg';
import type { MasterKeys } from '../../lib/crypto/master-keys.js';
import { resolveSecretFromRow } from '../../lib/secrets.js';
import { createBatcher } from './batcher.js';
import type { ChannelTarget } from './channels/types.js';

export interface ChannelRow {
  id: string;
  name: string;
  type: ChannelTarget['type'];
  target: string;
  secretRef: string;
  /** The secrets row named by secretRef, when there is one; resolve with credentialOf. */
  secret: { encryptedValue: string; keyId: string } | null;
}

type Raw = { id: string; name: string; type: ChannelTarget['type']; target: string; secret_ref: string; encrypted_value: string | null; key_id: string | null };

// 'secret://' is 9 characters; a malformed reference simply joins no secret and
// credentialOf reports it exactly as resolveSecretRef would.
const SELECT = `SELECT c.id, c.name, c.type, c.target, c.secret_ref, s.encrypted_value, s.key_id
FROM alert_channels c
LEFT JOIN secrets s ON s.tenant_id = c.tenant_id AND s.name = substr(c.secret_ref, 10) AND c.secret_ref LIKE 'secret://%'
WHERE c.tenant_id = $1`;

const toRow = (r: Raw): ChannelRow => ({
  id: r.id,
  name: r.name,
  type: r.type,
  target: r.target,
  secretRef: r.secret_ref,
  secret: r.encrypted_value !== null && r.key_id !== null ? { encryptedValue: r.encrypted_value, keyId: r.key_id } : null,
});

type Key = { tenantId: string; severity: string };

/**
 * The enabled channels that take a severity, by name, for many (tenant, severity) keys
 * in one statement: alert jobs running at the same moment share it (batcher.ts).
 */
async function channelsForKeys(db: Pick<pg.Pool, 'query'>, keys: Key[]): Promise<ChannelRow[][]> {
  const distinct = [...new Map(keys.map((k) => [`${k.tenantId}|${k.severity}`, k])).values()];
  const res = await db.query<Raw & { k: number }>(
    `SELECT k.k::int AS k, c.id, c.name, c.type, c.target, c.secret_ref, s.encrypted_value, s.key_id
FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS k(tenant_id, severity, k)
JOIN alert_channels c ON c.tenant_id = k.tenant_id AND c.enabled AND k.severity = ANY(c.severities)
LEFT JOIN secrets s ON s.tenant_id = c.tenant_id AND s.name = substr(c.secret_ref, 10) AND c.secret_ref LIKE 'secret://%'
ORDER BY k.k, c.name`,
    [distinct.map((k) => k.tenantId), distinct.map((k) => k.severity)],
  );
  const byKey = new Map<string, ChannelRow[]>();
  for (const r of res.rows) {
    const k = distinct[r.k - 1]!;
    const id = `${k.tenantId}|${k.severity}`;
    byKey.set(id, [...(byKey.get(id) ?? []), toRow(r)]);
  }
  return keys.map((k) => byKey.get(`${k.tenantId}|${k.severity}`) ?? []);
}

export type ChannelsFor = (tenantId: string, severity: string) => Promise<ChannelRow[]>;

/** Reads a tenant's enabled channels for a severity, batched with other jobs' reads. */
export function createChannelReader(db: Pick<pg.Pool, 'query'>): ChannelsFor {
  const read = createBatcher<Key, ChannelRow[]>({ maxBatch: 200, maxInFlight: 3, run: (keys) => channelsForKeys(db, keys) });
  return (tenantId, severity) => read({ tenantId, severity });
}

/** One channel of the tenant, enabled or not (a queued delivery goes to the channel it named). */
export async function channelById(db: Pick<pg.Pool, 'query'>, tenantId: string, channelId: string): Promise<ChannelRow | undefined> {
  const res = await db.query<Raw>(`${SELECT} AND c.id = $2`, [tenantId, channelId]);
  return res.rows[0] && toRow(res.rows[0]);
}

/** The channel's credential, decrypted now; throws the errors resolveSecretRef throws. */
export function credentialOf(keys: MasterKeys, tenantId: string, channel: ChannelRow): string {
  return resolveSecretFromRow(keys, tenantId, channel.secretRef, channel.secret);
}
