/**
 * `producer.objects`: how application code stores tenant files, always in the layout
 * of lib/storage/keys.ts, so backups and retention find them. Every call names its
 * tenant, and every key a call takes is parsed and must lie under that tenant's
 * prefix: a tenant never reads, lists or overwrites another's objects through here.
 *
 * Store failures are StorageUnavailableError (503, naming S3_ENDPOINT, never a key);
 * a missing object is NotFoundError; bad input is ValidationError naming the field.
 */
import { randomUUID } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { StorageUnavailableError, storeCall, type Storage } from '../lib/clients/storage.js';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.js';
import {
  classPrefix,
  keyTenantId,
  OBJECT_CLASSES,
  objectClass,
  objectKey,
  parseObjectKey,
  periodOf,
  tenantObjectKey,
  type ObjectClass,
} from '../lib/storage/keys.js';
import { parseOrThrow } from './validate.js';
import {
  DATA_CALL_TIMEOUT_MS,
  decodeCursor,
  encodeCursor,
  isMissing,
  LIST_DEFAULT,
  listOptionsSchema,
  PRESIGN_DEFAULT_SECONDS,
  presignSchema,
  putOptionsSchema,
  type ListOptions,
  type PutOptions,
  type StoredObject,
} from './objects-input.js';

export {
  LIST_MAX,
  PRESIGN_MAX_SECONDS,
  type ListOptions,
  type PutOptions,
  type StoredObject,
} from './objects-input.js';

export function createObjects(storage: Storage | undefined, clock: () => Date) {
  function need(): Storage {
    if (!storage)
      throw new Error(
        'producer.objects needs an object store: pass `storage` (createStorage(config.storage)) to createProducer',
      );
    return storage;
  }

  async function stat(s: Storage, key: string) {
    try {
      return await storeCall(s, `read ${key}`, () => s.client.statObject(s.bucket, key));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  return {
    /**
     * Store `body` as a new object of `tenantId`, of class `cls`. Returns its key.
     * Refuses to replace an existing key unless `overwrite` (only a caller-chosen id can
     * collide, so only then is it checked; the check and the write are two calls, and
     * two concurrent puts of one id with overwrite false can both pass it: choose ids
     * that are unique).
     */
    async put(
      tenantId: string,
      cls: ObjectClass,
      body: Buffer | Uint8Array | string,
      options: PutOptions = {},
    ): Promise<string> {
      const opts = parseOrThrow(putOptionsSchema, options, 'object options');
      const key = objectKey({
        tenantId,
        class: cls,
        at: opts.at ?? clock(),
        id: opts.id ?? randomUUID(),
        contentType: opts.contentType,
      });
      const bytes =
        typeof body === 'string'
          ? Buffer.from(body)
          : body instanceof Uint8Array
            ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
            : undefined;
      const max = OBJECT_CLASSES[cls].maxBytes;
      if (!bytes)
        throw new ValidationError('object', [{ path: 'body', message: 'must be a Buffer, Uint8Array or string' }]);
      if (bytes.length > max)
        throw new ValidationError('object', [
          { path: 'body', message: `is ${bytes.length} bytes, more than the ${max} class ${cls} takes` },
        ]);
      const s = need();
      // A generated id is a random UUID and cannot name an existing object: only a
      // caller-chosen id costs the extra request of the check.
      if (opts.id !== undefined && !opts.overwrite && (await stat(s, key)))
        throw new ConflictError(`object ${key} already exists (pass overwrite: true to replace it)`);
      const contentType = parseObjectKey(key).contentType;
      await storeCall(
        s,
        `write ${key}`,
        () => s.client.putObject(s.bucket, key, bytes, bytes.length, { 'Content-Type': contentType }),
        DATA_CALL_TIMEOUT_MS,
      );
      return key;
    },

    /** The object's bytes and type. NotFoundError when absent; another tenant's key is a ValidationError. */
    async get(
      tenantId: string,
      key: string,
    ): Promise<{ body: Buffer; contentType: string; size: number; lastModified: Date }> {
      const parsed = tenantObjectKey(tenantId, key);
      const s = need();
      try {
        return await storeCall(
          s,
          `read ${key}`,
          async () => {
            // Sized first: an object written around Bulwark may be larger than its class
            // allows, and get holds the whole body in memory.
            const info = await s.client.statObject(s.bucket, key);
            const max = OBJECT_CLASSES[parsed.class].maxBytes;
            if (info.size > max) throw Object.assign(new Error('too large'), { code: 'ObjectTooLarge' });
            const body = await buffer(await s.client.getObject(s.bucket, key));
            return { body, contentType: parsed.contentType, size: body.length, lastModified: info.lastModified };
          },
          DATA_CALL_TIMEOUT_MS,
        );
      } catch (err) {
        if (isMissing(err)) throw new NotFoundError(`no object ${key}`);
        if (err instanceof StorageUnavailableError && err.storeCode === 'ObjectTooLarge') {
          throw new ValidationError('object', [
            {
              path: 'key',
              message: `names an object larger than the ${OBJECT_CLASSES[parsed.class].maxBytes} bytes class ${parsed.class} allows (written around Bulwark?)`,
            },
          ]);
        }
        throw err;
      }
    },

    /**
     * One page of a tenant's objects of one class, oldest period first, optionally only
     * the periods from `from` to `to` (inclusive, UTC). Pass the returned `cursor` for
     * the next page; no cursor means the last page.
     */
    async list(
      tenantId: string,
      cls: ObjectClass,
      options: ListOptions = {},
    ): Promise<{ objects: StoredObject[]; cursor?: string }> {
      const own = keyTenantId(tenantId);
      const c = objectClass(cls);
      const opts = parseOrThrow(listOptionsSchema, options, 'list options');
      const prefix = classPrefix(own, c);
      const limit = opts.limit ?? LIST_DEFAULT;
      const fromPeriod = opts.from ? periodOf(c, opts.from) : undefined;
      const toPeriod = opts.to ? periodOf(c, opts.to) : undefined;
      if (fromPeriod && toPeriod && fromPeriod > toPeriod)
        throw new ValidationError('list options', [{ path: 'to', message: 'must not be before from' }]);
      // S3 lists in key order, and the period is the first part after the class, fixed
      // width: start after the cursor or just before the first period wanted.
      const after = [
        opts.cursor ? decodeCursor(own, c, opts.cursor) : '',
        fromPeriod ? `${prefix}${fromPeriod}` : '',
      ].reduce((a, b) => (a > b ? a : b));
      const s = need();
      const page = await storeCall(s, `list ${prefix}`, () =>
        s.client.listObjectsV2Query(s.bucket, prefix, '', '', limit, after),
      );
      const objects: StoredObject[] = [];
      for (const item of page.objects) {
        if (!item.name) continue;
        // A stray object that is not in the layout (written around Bulwark) is skipped, not returned.
        let parsed;
        try {
          parsed = parseObjectKey(item.name);
        } catch {
          continue;
        }
        if (parsed.tenantId !== own || parsed.class !== c) continue;
        if (toPeriod && parsed.period > toPeriod) return { objects };
        objects.push({
          key: item.name,
          id: parsed.id,
          period: parsed.period,
          size: item.size,
          lastModified: item.lastModified,
        });
      }
      const last = page.objects.at(-1)?.name;
      return page.isTruncated && last ? { objects, cursor: encodeCursor(last) } : { objects };
    },

    /**
     * A URL that lets whoever holds it GET one object for `expiresSeconds` (default 300,
     * at most 3600). The object must exist (NotFoundError) and be the tenant's.
     */
    async presignedGet(
      tenantId: string,
      key: string,
      options: { expiresSeconds?: number } = {},
    ): Promise<{ url: string; expiresAt: Date }> {
      tenantObjectKey(tenantId, key);
      const opts = parseOrThrow(presignSchema, options, 'presign options');
      const s = need();
      if (!(await stat(s, key))) throw new NotFoundError(`no object ${key}`);
      const seconds = opts.expiresSeconds ?? PRESIGN_DEFAULT_SECONDS;
      const now = clock();
      const url = await storeCall(s, `sign ${key}`, () => s.client.presignedGetObject(s.bucket, key, seconds, {}, now));
      return { url, expiresAt: new Date(now.getTime() + seconds * 1000) };
    },
  };
}

export type ObjectsApi = ReturnType<typeof createObjects>;
