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
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine(isStorableText, 'must not contain NUL characters or unpaired surrogates');

/** An instant, given as a Date or an ISO 8601 string with a zone, normalised to UTC ms ISO. */
export const INSTANT = z
  .union([z.date(), z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a zone, e.g. 2026-01-01T00:00:00Z' })])
  .transform((v, ctx) => {
    const d = v instanceof Date ? v : new Date(v);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'must be a valid date-time' });
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

/** A JSON object (before/after state, metadata): plain JSON, storable, bounded in size. */
export const JSON_OBJECT = (maxBytes: number) =>
  z
    .record(z.string(), z.json())
    .superRefine((obj, ctx) => {
      const bad = findUnstorableText(obj);
      if (bad) ctx.addIssue({ code: 'custom', message: `has a string with NUL or unpaired surrogate at ${bad}` });
      const size = Buffer.byteLength(JSON.stringify(obj));
      if (size > maxBytes) ctx.addIssue({ code: 'custom', message: `is ${size} bytes, more than ${maxBytes}` });
    });
