/**
 * Reading a tenant's alert channels together with the secret row their `secret://`
 * reference names, in one statement on the shared pg pool: the hot path used to spend
 * three Prisma queries (channels, channel again, secret) per delivery. Nothing here is
 * cached: a channel removed or a secret rotated applies to the very next send, and the
 * credential lives only in memory for the call that resolves it (docs/SECURITY.md).
 */
import type pg from 'pg';
import type { MasterKeys } from '../../lib/crypto/master-keys.js';
import { resolveSecretFromRow } from '../../lib/secrets.js';
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

/** The tenant's enabled channels that take this severity, by name. */
export async function channelsFor(db: Pick<pg.Pool, 'query'>, tenantId: string, severity: string): Promise<ChannelRow[]> {
  const res = await db.query<Raw>(`${SELECT} AND c.enabled AND $2 = ANY(c.severities) ORDER BY c.name`, [tenantId, severity]);
  return res.rows.map(toRow);
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
