/**
 * What an audit checkpoint is, byte for byte (docs/audit-checkpoints.md defines the same):
 * where it lies in the object store, the message its Ed25519 signature covers, and the
 * JSON object stored. Nothing here touches the store or the database.
 *
 *   key:      checkpoints/{tenantId}/{YYYY-MM-DD}/{HH}.json     (the hour, UTC)
 *   message:  "bulwark-audit-checkpoint v1\n" "tenant {id}\n" "hour {YYYY-MM-DDTHH}\n"
 *             "seq {n}\n" "hash {64 hex}\n" "at {ISO 8601, ms, Z}\n"   (UTF-8, LF)
 *   object:   {"format":"bulwark-audit-checkpoint","v":1,"tenant":…,"hour":…,"seq":"n",
 *              "hash":…,"at":…,"keyId":…,"signature":"<base64, 64 bytes>"}
 *
 * Tenant and hour are inside the signed message, so a checkpoint copied to another
 * tenant's or hour's key (to fill a deleted one) fails verification.
 */
import { z } from 'zod';
import { keyTenantId } from '../storage/keys.js';
import { verifyWith, type CheckpointPublicKey, type CheckpointSigner } from './keys.js';

/** Every checkpoint lives under this prefix of the tenant-data bucket (S3_BUCKET). */
export const CHECKPOINT_ROOT = 'checkpoints/';
export const CHECKPOINT_FORMAT = 'bulwark-audit-checkpoint';
export const GENESIS = '0'.repeat(64);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}$/;
const HASH = /^[0-9a-f]{64}$/;
const SEQ = /^(0|[1-9]\d{0,18})$/;
const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A chain head as signed: the tenant, its last seq and hash, and when it was read. */
export interface ChainHead {
  tenantId: string;
  /** Decimal, no leading zeros (bigint in the database). */
  seq: string;
  hash: string;
}

export interface CheckpointFields extends ChainHead {
  /** The UTC hour the checkpoint is for: `YYYY-MM-DDTHH`, the hour of `at`. */
  hour: string;
  /** When the head was read, ISO 8601 with milliseconds, UTC. */
  at: string;
}

/** The hour (`YYYY-MM-DDTHH`, UTC) of a time. */
export function hourOf(at: Date): string {
  return at.toISOString().slice(0, 13);
}

/** When an hour (`YYYY-MM-DDTHH`) starts. */
export function hourStart(hour: string): Date {
  return new Date(`${hour}:00:00.000Z`);
}

/** The object key of a tenant's checkpoint for an hour. */
export function checkpointKey(tenantId: string, hour: string): string {
  if (!HOUR.test(hour) || hourOf(hourStart(hour)) !== hour) throw new Error(`not an hour (YYYY-MM-DDTHH): ${hour}`);
  return `${CHECKPOINT_ROOT}${keyTenantId(tenantId)}/${hour.slice(0, 10)}/${hour.slice(11, 13)}.json`;
}

/** `checkpoints/{tenantId}/`: every checkpoint of one tenant, oldest first when listed. */
export function tenantCheckpointPrefix(tenantId: string): string {
  return `${CHECKPOINT_ROOT}${keyTenantId(tenantId)}/`;
}

/** A key's tenant and hour, or undefined for a key this module could not have built. */
export function parseCheckpointKey(key: string): { tenantId: string; hour: string } | undefined {
  const m = /^checkpoints\/([0-9a-f-]{36})\/(\d{4}-\d{2}-\d{2})\/(\d{2})\.json$/.exec(key);
  if (!m || !UUID.test(m[1]!)) return undefined;
  const hour = `${m[2]}T${m[3]}`;
  return hourOf(hourStart(hour)) === hour ? { tenantId: m[1]!, hour } : undefined;
}

/** The exact bytes the signature covers. */
export function checkpointMessage(c: CheckpointFields): Buffer {
  return Buffer.from(
    `${CHECKPOINT_FORMAT} v1\ntenant ${c.tenantId}\nhour ${c.hour}\nseq ${c.seq}\nhash ${c.hash}\nat ${c.at}\n`,
    'utf8',
  );
}

const documentSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    v: z.literal(1),
    tenant: z.string().regex(UUID, 'must be a lower-case UUID'),
    hour: z.string().regex(HOUR, 'must be YYYY-MM-DDTHH'),
    seq: z.string().regex(SEQ, 'must be a decimal sequence number'),
    hash: z.string().regex(HASH, 'must be 64 lower-case hex digits'),
    at: z.string().regex(AT, 'must be an ISO 8601 UTC time with milliseconds'),
    keyId: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 hex digits'),
    signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be 64 bytes in base64'),
  })
  .strict();

export type CheckpointDocument = z.output<typeof documentSchema>;

/** The stored object for a head, signed. */
export function encodeCheckpoint(c: CheckpointFields, signer: CheckpointSigner): Buffer {
  const doc: CheckpointDocument = {
    format: CHECKPOINT_FORMAT,
    v: 1,
    tenant: c.tenantId,
    hour: c.hour,
    seq: c.seq,
    hash: c.hash,
    at: c.at,
    keyId: signer.publicKey.id,
    signature: signer.sign(checkpointMessage(c)).toString('base64'),
  };
  return Buffer.from(`${JSON.stringify(doc)}\n`, 'utf8');
}

export type DecodeResult = { ok: true; doc: CheckpointDocument } | { ok: false; problem: string };

/** Parse a stored object (untrusted: anything may have been written there). */
export function decodeCheckpoint(body: Buffer): DecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, problem: 'is not JSON' };
  }
  const parsed = documentSchema.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      problem: parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; '),
    };
  return { ok: true, doc: parsed.data };
}

export type SignatureCheck = 'ok' | 'unknown-key' | 'bad-signature';

/** Whether the document's signature verifies under the key its keyId names (among `keys`). */
export function checkSignature(doc: CheckpointDocument, keys: readonly CheckpointPublicKey[]): SignatureCheck {
  const key = keys.find((k) => k.id === doc.keyId);
  if (!key) return 'unknown-key';
  const fields: CheckpointFields = { tenantId: doc.tenant, hour: doc.hour, seq: doc.seq, hash: doc.hash, at: doc.at };
  return verifyWith(key, checkpointMessage(fields), Buffer.from(doc.signature, 'base64')) ? 'ok' : 'bad-signature';
}
