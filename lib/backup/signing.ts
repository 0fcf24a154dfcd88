/**
 * Manifest signatures: HMAC-SHA256 over the manifest's canonical JSON (keys sorted at
 * every depth, no whitespace) without its `signature` field. The first signing key
 * signs; any configured key verifies (rotation: add the new key first, keep the old
 * one until the backups it signed have expired).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SigningKey } from './keys.js';

/** JSON with object keys sorted at every depth: one byte string per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface Signature {
  alg: 'HMAC-SHA256';
  keyId: string;
  value: string;
}

export function sign(body: object, key: SigningKey): Signature {
  return { alg: 'HMAC-SHA256', keyId: key.id, value: createHmac('sha256', key.secret).update(canonicalJson(body)).digest('hex') };
}

/** Whether `signature` is a valid signature of `body` by one of `keys` (the one its keyId names). */
export function verifySignature(body: object, signature: Signature, keys: readonly SigningKey[]): 'ok' | 'unknown-key' | 'mismatch' {
  const key = keys.find((k) => k.id === signature.keyId);
  if (!key) return 'unknown-key';
  const expected = Buffer.from(sign(body, key).value, 'hex');
  const given = Buffer.from(signature.value, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'ok' : 'mismatch';
}
