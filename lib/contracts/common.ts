/**
 * Pieces every job contract uses. Contracts import nothing else of the project, so
 * producers and workers can share them without depending on each other.
 */
import { z } from 'zod';

/** Retry, concurrency and retention policy of one queue; workers and producers read it. */
export interface QueuePolicy {
  /** Attempts before a job is failed for good. */
  attempts: number;
  /** Backoff between attempts (BullMQ built-in strategies). */
  backoff: { type: 'exponential' | 'fixed'; delay: number };
  /** Jobs one worker process runs at once. */
  concurrency: number;
  /** Most jobs started per `duration` ms, across all workers of the queue. */
  limiter: { max: number; duration: number };
  /** Completed jobs kept for inspection in Bull Board. */
  removeOnComplete: { count: number; age?: number };
  /** Failed jobs kept for inspection (they are the ones operators need). */
  removeOnFail: { count: number; age?: number };
}

// Lower-cased because Postgres prints UUIDs in lower case and chains are keyed by that text.
/** Whether a string is a UUID in its 8-4-4-4-12 hex form, any version, any case (a check before a query on a uuid column). */
export function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

export const TENANT_ID = z.uuid({ error: 'must be a UUID' }).transform((id) => id.toLowerCase());

/**
 * A string Postgres can store in TEXT and JSONB: no NUL character, no lone UTF-16
 * surrogate. Checked up front so such input is a validation error, not a job that
 * fails forever in the database.
 */
export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

export const TEXT = (max: number) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
    .max(max, `must be at most ${max} characters`)
    .refine(isStorableText, 'must not contain NUL characters or unpaired surrogates');

/**
 * The instants Bulwark stores: years 1 to 9999 in UTC. Postgres has no year 0 and
 * refused one ("0000-01-01T00:00:00Z", or "0001-01-01T00:00:00+01:00", which is in it)
 * only when the worker wrote the entry: a 202, then a job that failed at every attempt,
 * taking the other entries of its job with it. Past 9999 toISOString writes "+010000-…".
 */
export const INSTANT_MIN_MS = Date.parse('0001-01-01T00:00:00.000Z');
export const INSTANT_MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');
export const INSTANT_RANGE = 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z';
export function isInstantInRange(d: Date): boolean {
  const ms = d.getTime();
  return ms >= INSTANT_MIN_MS && ms <= INSTANT_MAX_MS;
}

/** An instant, given as a Date or an ISO 8601 string with a zone, normalised to UTC ms ISO. */
export const INSTANT = z
  .union([
    z.date(),
    z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a zone, e.g. 2026-01-01T00:00:00Z' }),
  ])
  .transform((v, ctx) => {
    const d = v instanceof Date ? v : new Date(v);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'must be a valid date-time' });
      return z.NEVER;
    }
    if (!isInstantInRange(d)) {
      ctx.addIssue({ code: 'custom', message: INSTANT_RANGE });
      return z.NEVER;
    }
    return d.toISOString();
  });

/** Walk a JSON value and report the first string (key or value) Postgres would refuse. */
export function findUnstorableText(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path || '(value)';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findUnstorableText(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (!isStorableText(k)) return `${path}.${k}`;
      const bad = findUnstorableText(v, `${path}.${k}`);
      if (bad) return bad;
    }
  }
  return undefined;
}

/**
 * Walk a value once: is it plain JSON (objects, arrays, strings, finite numbers,
 * booleans, null), is every string storable, and how many bytes is it roughly as
 * JSON? Returns the first problem, or the size. One pass instead of zod's generic
 * JSON schema plus two more walks: this runs for every audit entry, twice.
 */
function inspectJson(value: unknown, path: string, depth: number): { problem: string } | { size: number } {
  if (depth > 32) return { problem: `nests deeper than 32 levels at ${path || '(root)'}` };
  if (value === null || typeof value === 'boolean') return { size: 5 };
  if (typeof value === 'number')
    return Number.isFinite(value) ? { size: 24 } : { problem: `has a non-finite number at ${path}` };
  if (typeof value === 'string')
    return isStorableText(value)
      ? { size: value.length + 2 }
      : { problem: `has a string with NUL or unpaired surrogate at ${path}` };
  if (Array.isArray(value)) {
    let size = 2;
    for (let i = 0; i < value.length; i++) {
      const r = inspectJson(value[i], `${path}[${i}]`, depth + 1);
      if ('problem' in r) return r;
      size += r.size + 1;
    }
    return { size };
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    let size = 2;
    for (const [k, v] of Object.entries(value)) {
      if (!isStorableText(k)) return { problem: `has a key with NUL or unpaired surrogate at ${path}.${k}` };
      if (v === undefined) continue;
      const r = inspectJson(v, `${path}.${k}`, depth + 1);
      if ('problem' in r) return r;
      size += k.length + 4 + r.size;
    }
    return { size };
  }
  return { problem: `holds a value that is not JSON at ${path || '(root)'}` };
}

/**
 * The size in bytes of a JSON object as JSON when it is more than `maxBytes`, else
 * undefined: the walk's estimate first, the exact size only for objects that could be
 * near the limit (as JSON_OBJECT does).
 */
export function jsonBytesOver(obj: unknown, maxBytes: number): number | undefined {
  const r = inspectJson(obj, '', 0);
  if ('size' in r && r.size <= maxBytes / 6) return undefined;
  const size = Buffer.byteLength(JSON.stringify(obj));
  return size > maxBytes ? size : undefined;
}

/** A JSON object (before/after state, metadata): plain JSON, storable, bounded in size. */
export const JSON_OBJECT = (maxBytes: number) =>
  z
    .custom<Record<string, JsonValue>>(
      (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
      'must be a JSON object',
    )
    .superRefine((obj, ctx) => {
      const r = inspectJson(obj, '', 0);
      if ('problem' in r) ctx.addIssue({ code: 'custom', message: r.problem });
      // The walk counts UTF-16 units; JSON can take up to 6 bytes for one (\u001f), so
      // only objects that could be near the limit get their exact size computed.
      else if (r.size > maxBytes / 6) {
        const size = Buffer.byteLength(JSON.stringify(obj));
        if (size > maxBytes) ctx.addIssue({ code: 'custom', message: `is ${size} bytes, more than ${maxBytes}` });
      }
    });

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
