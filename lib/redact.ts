/**
 * Secret redaction shared by the logger and the audit path. A key is secret-looking
 * when its name contains one of the words below (any case, any nesting depth); its
 * value is replaced whole. Credentials embedded in URLs are masked in any string.
 */

export const REDACTED = '[REDACTED]';

const SECRET_KEY =
  /passw(or)?d|passphrase|^pass$|secret|token|api[-_]?key|authori[sz]ation|cookie|credential|private[-_]?key|session[-_]?id/i;
// The password part runs to the LAST "@" before the path: a password may itself hold "@".
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):([^\s/]+)@/gi;

/** True when a field of this name must never be stored or logged in clear. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Mask the password part of `scheme://user:password@host` inside a string. */
export function maskUrlCredentials(text: string): string {
  // Most strings hold no URL; skipping the regex for them is most of this function's cost.
  return text.includes('://') ? text.replace(URL_CREDENTIALS, `$1:${REDACTED}@`) : text;
}

/**
 * Return a deep copy of `value` with secret-looking fields replaced by "[REDACTED]"
 * and URL credentials masked. Cycles are cut rather than followed.
 */
export function redactSecrets<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (typeof value === 'string') return maskUrlCredentials(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  // `seen` holds only the ancestors of the current value: an object reached twice
  // through different paths is copied twice, only a true cycle becomes "[Circular]".
  if (seen.has(value)) return '[Circular]' as T;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactSecrets(v, seen)) as T;
    if (value instanceof Error) return redactError(value, seen) as T;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const r = isSecretKey(k) && v !== null && v !== undefined ? REDACTED : redactSecrets(v, seen);
      // An own "__proto__" (JSON.parse makes one) assigned to `out` would set its
      // prototype instead: the member vanished from the copy, and so from a stored audit entry.
      if (k === '__proto__')
        Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
      else out[k] = r;
    }
    return out as T;
  } finally {
    seen.delete(value);
  }
}

/** An Error as a plain object: type, masked message and stack, cause and inner errors kept. */
function redactError(err: Error, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: maskUrlCredentials(err.message) };
  if (err.stack) out.stack = maskUrlCredentials(err.stack);
  for (const [k, v] of Object.entries(err)) out[k] = isSecretKey(k) ? REDACTED : redactSecrets(v, seen);
  // cause and AggregateError's errors are not enumerable own fields, so Object.entries misses them.
  if (err.cause !== undefined) out.cause = redactSecrets(err.cause, seen);
  if (err instanceof AggregateError) out.errors = redactSecrets(err.errors, seen);
  return out;
}

/**
 * redactSecrets for plain JSON values (parsed JSON: no cycles, no Errors or Dates), as
 * audit entries' before/after/metadata are: the same result, but a value with nothing
 * to redact is returned as it is, not copied. It runs for every audit entry, in the
 * producer and again in the worker, where the copies were garbage to collect.
 */
export function redactJson<T>(value: T): T {
  if (typeof value === 'string') return maskUrlCredentials(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = redactJson(value[i]);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return (out ?? value) as T;
  }
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    const r = isSecretKey(k) && v !== null && v !== undefined ? REDACTED : redactJson(v);
    if (r !== v) (out ??= { ...obj })[k] = r;
  }
  return (out ?? obj) as T;
}
