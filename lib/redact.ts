/**
 * Secret redaction shared by the logger and the audit path. A key is secret-looking
 * when its name contains one of the words below (any case, any nesting depth); its
 * value is replaced whole. Credentials embedded in URLs are masked in any string.
 */

export const REDACTED = '[REDACTED]';

const SECRET_KEY = /passw(or)?d|passphrase|^pass$|secret|token|api[-_]?key|authori[sz]ation|cookie|credential|private[-_]?key|session[-_]?id/i;
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):([^@\s/]+)@/gi;

/** True when a field of this name must never be stored or logged in clear. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Mask the password part of `scheme://user:password@host` inside a string. */
export function maskUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1:${REDACTED}@`);
}

/**
 * Return a deep copy of `value` with secret-looking fields replaced by "[REDACTED]"
 * and URL credentials masked. Cycles are cut rather than followed.
 */
export function redactSecrets<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (typeof value === 'string') return maskUrlCredentials(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]' as T;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, seen)) as T;
  if (value instanceof Date) return value;
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: maskUrlCredentials(value.message) };
    if (value.stack) out.stack = maskUrlCredentials(value.stack);
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? REDACTED : redactSecrets(v, seen);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretKey(k) && v !== null && v !== undefined ? REDACTED : redactSecrets(v, seen);
  }
  return out as T;
}
