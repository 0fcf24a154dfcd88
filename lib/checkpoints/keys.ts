/**
 * The Ed25519 keys of audit checkpoints (docs/audit-checkpoints.md).
 *
 * AUDIT_CHECKPOINT_KEY is the 32-byte private key (RFC 8032's "seed", what
 * `openssl genpkey -algorithm ed25519` holds in its last 32 DER bytes) written in
 * base64 or base64url, 43 or 44 characters. Its public key signs nothing and is no
 * secret: `bulwark audit checkpoints key` prints it. AUDIT_CHECKPOINT_PUBLIC_KEYS lists
 * the public keys of earlier signing keys (same encoding, comma-separated), so
 * checkpoints signed before a rotation still verify. A key's id is the first 16 hex
 * digits of the SHA-256 of its 32 raw public-key bytes; every checkpoint names the id
 * of the key that signed it.
 *
 * The shape checks (isCheckpointKey, isPublicKeyList) are what lib/config.ts validates
 * with: they never put key material in a message.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

/** DER of a PKCS#8 Ed25519 private key, up to the 32 key bytes (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** DER of an Ed25519 SubjectPublicKeyInfo, up to the 32 key bytes. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** 32 bytes in base64 (43 characters and one `=`, or unpadded) or base64url. */
const KEY_TEXT = /^[A-Za-z0-9+/_-]{43}=?$/;

/** The 32 bytes a key's text holds, or undefined when it is not 32 bytes of base64/base64url. */
export function decodeKey32(text: string): Buffer | undefined {
  const t = text.trim();
  if (!KEY_TEXT.test(t)) return undefined;
  const bytes = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 32 ? bytes : undefined;
}

/** Whether AUDIT_CHECKPOINT_KEY has the right shape (32 bytes of base64 or base64url). */
export function isCheckpointKey(raw: string): boolean {
  return decodeKey32(raw) !== undefined;
}

export function splitPublicKeys(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Whether AUDIT_CHECKPOINT_PUBLIC_KEYS is a comma-separated list of 32-byte base64 keys. */
export function isPublicKeyList(raw: string): boolean {
  const keys = splitPublicKeys(raw);
  return keys.length > 0 && keys.every((k) => decodeKey32(k) !== undefined);
}

export interface CheckpointPublicKey {
  /** First 16 hex digits of SHA-256 over the 32 raw public-key bytes. */
  readonly id: string;
  /** The 32 raw public-key bytes. */
  readonly raw: Buffer;
  readonly key: KeyObject;
}

export interface CheckpointSigner {
  readonly publicKey: CheckpointPublicKey;
  /** An Ed25519 signature (64 bytes) of `message`; Ed25519 is deterministic. */
  sign(message: Buffer): Buffer;
}

export function keyIdOf(rawPublicKey: Buffer): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

/** A public key from its 32 raw bytes. */
export function publicKeyFromRaw(raw: Buffer): CheckpointPublicKey {
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  return Object.freeze({ id: keyIdOf(raw), raw: Buffer.from(raw), key });
}

/** The signer for AUDIT_CHECKPOINT_KEY's value. Throws (naming the variable, not the value) on a bad one. */
export function parseSigningKey(text: string): CheckpointSigner {
  const seed = decodeKey32(text);
  if (!seed) throw new Error('AUDIT_CHECKPOINT_KEY must be 32 bytes in base64 or base64url (43 or 44 characters)');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = publicKeyFromRaw(spki.subarray(SPKI_PREFIX.length));
  return Object.freeze({ publicKey, sign: (message: Buffer) => sign(null, message, privateKey) });
}

/** Whether `signature` is `key`'s Ed25519 signature of `message`. */
export function verifyWith(key: CheckpointPublicKey, message: Buffer, signature: Buffer): boolean {
  if (signature.length !== 64) return false;
  return verify(null, message, key.key, signature);
}

/** The public key as PEM (SubjectPublicKeyInfo), what `openssl pkeyutl -verify -pubin` reads. */
export function publicKeyPem(key: CheckpointPublicKey): string {
  return key.key.export({ format: 'pem', type: 'spki' }).toString();
}

/** A new private key for AUDIT_CHECKPOINT_KEY: 32 random bytes as base64. */
export function generateSigningKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return der.subarray(PKCS8_PREFIX.length).toString('base64');
}

export interface CheckpointKeys {
  /** Present when AUDIT_CHECKPOINT_KEY is set: checkpoints are written. */
  readonly signer: CheckpointSigner | undefined;
  /** Every key a checkpoint may be signed with: the signer's, then AUDIT_CHECKPOINT_PUBLIC_KEYS. */
  readonly verifiers: readonly CheckpointPublicKey[];
}

/** The keys of a configuration (its values were validated by loadConfig). */
export function checkpointKeys(config: {
  readonly auditCheckpointKey: string | undefined;
  readonly auditCheckpointPublicKeys: string | undefined;
}): CheckpointKeys {
  const signer = config.auditCheckpointKey ? parseSigningKey(config.auditCheckpointKey) : undefined;
  const verifiers: CheckpointPublicKey[] = signer ? [signer.publicKey] : [];
  for (const text of splitPublicKeys(config.auditCheckpointPublicKeys ?? '')) {
    const raw = decodeKey32(text);
    if (!raw) throw new Error('AUDIT_CHECKPOINT_PUBLIC_KEYS must be 32-byte keys in base64 or base64url');
    const key = publicKeyFromRaw(raw);
    if (!verifiers.some((k) => k.id === key.id)) verifiers.push(key);
  }
  return Object.freeze({ signer, verifiers: Object.freeze(verifiers) });
}
