/**
 * The inputs of `producer.objects` (producers/objects.ts): option types with their
 * defaults, their zod schemas, and the list cursor, which must lead back into the
 * caller's own prefix.
 */
import { z } from 'zod';
import { StorageUnavailableError } from '../lib/clients/storage.js';
import { ValidationError } from '../lib/errors.js';
import { parseObjectKey, type ObjectClass } from '../lib/storage/keys.js';

/** Longest a presigned GET URL may live, and its default: links leak (logs, referrers), so they are short. */
export const PRESIGN_MAX_SECONDS = 3600;
export const PRESIGN_DEFAULT_SECONDS = 300;
/** Most objects one list call returns, and its default. */
export const LIST_MAX = 1000;
export const LIST_DEFAULT = 100;
/** Time limit of one data call (put, get); control calls have STORE_CALL_TIMEOUT_MS. */
export const DATA_CALL_TIMEOUT_MS = 60_000;

export interface PutOptions {
  /** One of the class's content types (docs/storage.md). Default: the class's first. */
  contentType?: string;
  /** The object's id, `[A-Za-z0-9_-]{1,128}`. Default: a random UUID. */
  id?: string;
  /** When the object was made: its key's period (UTC). Default: now (the producer's clock). */
  at?: Date;
  /** Replace an object of the same key. Default: false (an existing key is a ConflictError, 409). */
  overwrite?: boolean;
}

export interface StoredObject {
  key: string;
  id: string;
  /** The key's period: `YYYY-MM-DD` or `YYYY-MM`. */
  period: string;
  size: number;
  lastModified: Date;
}

export interface ListOptions {
  /** First period listed (inclusive), as a Date in it. Default: the earliest. */
  from?: Date;
  /** Last period listed (inclusive). Default: the latest. */
  to?: Date;
  /** 1-1000. Default: 100. */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

export const putOptionsSchema = z
  .object({
    contentType: z.string().optional(),
    id: z.string().optional(),
    at: z
      .date({ error: 'must be a Date' })
      .refine((d) => !Number.isNaN(d.getTime()), 'must be a valid date')
      .optional(),
    overwrite: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict();

export const listOptionsSchema = z
  .object({
    from: z
      .date({ error: 'must be a Date' })
      .refine((d) => !Number.isNaN(d.getTime()), 'must be a valid date')
      .optional(),
    to: z
      .date({ error: 'must be a Date' })
      .refine((d) => !Number.isNaN(d.getTime()), 'must be a valid date')
      .optional(),
    limit: z.number().int('must be a whole number').min(1).max(LIST_MAX).optional(),
    cursor: z.string().max(1500).optional(),
  })
  .strict();

export const presignSchema = z
  .object({ expiresSeconds: z.number().int('must be a whole number').min(1).max(PRESIGN_MAX_SECONDS).optional() })
  .strict();

export const isMissing = (err: unknown) =>
  err instanceof StorageUnavailableError && ['NoSuchKey', 'NotFound'].includes(err.storeCode ?? '');

/** A cursor is the last key of the previous page, base64url: opaque to callers, checked on the way back. */
export const encodeCursor = (key: string) => Buffer.from(key).toString('base64url');
export function decodeCursor(tenantId: string, cls: ObjectClass, cursor: string): string {
  const key = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const parsed = key ? parseObjectKey(key, 'cursor') : undefined;
  // A cursor is refused unless it is a key of this tenant and class: listing with
  // start-after another prefix must not be a way to walk it.
  if (!parsed || parsed.tenantId !== tenantId || parsed.class !== cls)
    throw new ValidationError('list options', [
      { path: 'cursor', message: 'is not a cursor of this tenant and class' },
    ]);
  return key;
}
