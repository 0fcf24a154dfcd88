/**
 * Fields of list queries (GET /v1/audit, GET /v1/alerts, `bulwark alerts`), with
 * messages a caller can act on: zod's own ("Too small: expected number to be >=1",
 * "Invalid ISO datetime") name neither the range nor what is missing.
 */
import { z } from 'zod';
import { INSTANT_RANGE, isInstantInRange } from './contracts/common.js';

/** A page size: a whole number from 1 to `max`, given as a number or a query string. */
export const QUERY_LIMIT = (max: number, fallback: number) => {
  const message = `must be a whole number from 1 to ${max}`;
  // One message for every way to miss (not a number, a fraction, out of range). Digits
  // only: Number() would also take " 5", "0x10" and "1e2".
  return z
    .union(
      [
        z.number(),
        z
          .string()
          .regex(/^\d{1,9}$/)
          .transform(Number),
      ],
      { error: message },
    )
    .pipe(z.number().int(message).min(1, message).max(max, message))
    .default(fallback);
};

/** An instant as ISO 8601 with a zone; without one it would be read in the server's zone. */
export const QUERY_INSTANT = z.iso
  .datetime({
    offset: true,
    error: 'must be an ISO 8601 date-time with a zone, e.g. 2026-11-26T00:00:00Z',
    abort: true,
  })
  // Year 0 (e.g. 0000-01-01T00:00:00Z) reached the query, which Postgres refused: a 500.
  .refine((s) => isInstantInRange(new Date(s)), INSTANT_RANGE);
