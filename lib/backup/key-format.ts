/**
 * Shapes of the backup key variables, checked by lib/config.ts without echoing them.
 * Parsing into keys and recipients is lib/backup/keys.ts; signing is signing.ts.
 */

/** An age X25519 identity as `age-keygen` prints it (Bech32, upper case). */
export const AGE_IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/;

/** Split a list on commas and whitespace, dropping empty items. */
export function splitKeyList(raw: string): string[] {
  return raw.split(/[\s,]+/).filter((s) => s !== '');
}

export function isBackupKeyList(raw: string): boolean {
  const keys = splitKeyList(raw);
  return keys.length > 0 && keys.every((k) => AGE_IDENTITY.test(k));
}

/** Signing keys: at least 32 characters each (256 bits of base64 is 44). */
export function isSigningKeyList(raw: string): boolean {
  const keys = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return keys.length > 0 && keys.every((k) => k.length >= 32 && !/\s/.test(k));
}
