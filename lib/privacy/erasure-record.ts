/**
 * Erasure records: one per erased audit entry, in `audit_erasures`, signed with
 * ERASURE_SIGNING_KEY (Ed25519, the key format of lib/checkpoints/keys.ts). It keeps the
 * entry's hash as the chain has it, so the chain still links through the entry, and for
 * a format-1 entry the hash its redacted row has (`redacted_hash`), so what remains of
 * the row is still covered (docs/jobs/audit-write.md § Erased entries, normative).
 *
 * The signed message is six lines, UTF-8, each ending in `\n`:
 *
 *   bulwark-audit-erasure v1
 *   tenant <tenant id, lower case>
 *   seq <seq>
 *   hash <the entry's hash>
 *   redacted <format 1: the redacted row's hash; format 2: ->
 *   erased <erased_at, ISO 8601 UTC with milliseconds>
 */
import {
  checkpointKeys,
  decodeKey32,
  publicKeyFromRaw,
  verifyWith,
  type CheckpointPublicKey,
  type CheckpointSigner,
} from '../checkpoints/keys.js';
import { ConfigError } from '../errors.js';

export interface ErasureRecord {
  tenantId: string;
  seq: string;
  hash: string;
  /** Format 1 only; null for format 2. */
  redactedHash: string | null;
  /** ISO 8601 UTC with milliseconds. */
  erasedAt: string;
  keyId: string;
  /** base64 of the 64-byte Ed25519 signature. */
  signature: string;
}

export type ErasurePublicKey = CheckpointPublicKey;

/** The message an erasure record's signature covers. */
export function erasureMessage(r: Omit<ErasureRecord, 'keyId' | 'signature'>): Buffer {
  return Buffer.from(
    [
      'bulwark-audit-erasure v1',
      `tenant ${r.tenantId}`,
      `seq ${r.seq}`,
      `hash ${r.hash}`,
      `redacted ${r.redactedHash ?? '-'}`,
      `erased ${r.erasedAt}`,
      '',
    ].join('\n'),
    'utf8',
  );
}

/** Sign a record's fields. */
export function signErasure(signer: CheckpointSigner, r: Omit<ErasureRecord, 'keyId' | 'signature'>): ErasureRecord {
  return { ...r, keyId: signer.publicKey.id, signature: signer.sign(erasureMessage(r)).toString('base64') };
}

/** Why a record's signature does not hold, or null when it does. */
export function erasureSignatureProblem(r: ErasureRecord, keys: readonly ErasurePublicKey[]): string | null {
  const key = keys.find((k) => k.id === r.keyId);
  if (!key)
    return `erasure record signed by key ${r.keyId}, which is not ERASURE_SIGNING_KEY's nor in ERASURE_PUBLIC_KEYS`;
  const sig = Buffer.from(r.signature, 'base64');
  return verifyWith(key, erasureMessage(r), sig) ? null : 'erasure record signature does not verify';
}

export interface ErasureKeys {
  /** Present when ERASURE_SIGNING_KEY is set: erasure can run. */
  readonly signer: CheckpointSigner | undefined;
  /** Every key a record may be signed with: the signer's, then ERASURE_PUBLIC_KEYS. */
  readonly verifiers: readonly ErasurePublicKey[];
}

/** The erasure keys of a configuration (its values were validated by loadConfig). */
export function erasureKeys(config: {
  readonly erasureSigningKey: string | undefined;
  readonly erasurePublicKeys: string | undefined;
}): ErasureKeys {
  const k = checkpointKeys({
    auditCheckpointKey: config.erasureSigningKey,
    auditCheckpointPublicKeys: config.erasurePublicKeys,
  });
  return { signer: k.signer, verifiers: k.verifiers };
}

/** The signer, or a ConfigError saying erasure needs ERASURE_SIGNING_KEY. */
export function requireErasureSigner(keys: ErasureKeys): CheckpointSigner {
  if (!keys.signer)
    throw new ConfigError([
      {
        path: 'ERASURE_SIGNING_KEY',
        message:
          'is required to erase a subject (32 bytes in base64: `bulwark audit checkpoints generate-key` makes one)',
      },
    ]);
  return keys.signer;
}

/** A public key from its base64 text (for tests and tools). */
export function erasurePublicKey(text: string): ErasurePublicKey {
  const raw = decodeKey32(text);
  if (!raw) throw new Error('an erasure public key must be 32 bytes in base64 or base64url');
  return publicKeyFromRaw(raw);
}
