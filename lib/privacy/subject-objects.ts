/**
 * Which objects in the store are a data subject's: the convention (docs/storage.md,
 * "A subject's objects"). The key layout (lib/storage/keys.ts) has no place for a
 * person, and a key must not carry one (keys show up in logs, listings and backups),
 * so a subject's objects carry a token derived from the subject in their object id:
 *
 *   tenant/{tenantId}/{class}/{period}/s-{token}-{rest}.{ext}
 *   token = the first 32 hex digits of SHA-256("bulwark-subject\0" + tenantId + "\0" + subject)
 *
 * Application code stores such an object with `producer.objects.put(tenantId, cls,
 * body, { id: subjectObjectId(tenantId, subject) })`. The token differs per tenant (the
 * same person in two tenants is not linkable by key), names no one by itself, and is
 * what a subject export and an erasure list by (listSubjectObjects). Anyone holding a
 * subject can compute its token: it hides the subject from readers of keys, not from a
 * guess. Export bundles (class `exports`) carry the token in their metadata instead of
 * their key (listSubjectExports), so erasure finds them too.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { BucketItem } from 'minio';
import { storeCall, storeErrorCode, StorageUnavailableError, type Storage } from '../clients/storage.js';
import { ValidationError } from '../errors.js';
import { classPrefix, OBJECT_CLASS_NAMES, parseObjectKey, type ObjectClass, type ParsedKey } from '../storage/keys.js';
import { checkSubject } from './subject-match.js';

/** Classes a subject's objects are looked for in: every class but the export bundles themselves. */
export const SUBJECT_OBJECT_CLASSES: readonly ObjectClass[] = OBJECT_CLASS_NAMES.filter((c) => c !== 'exports');

/** The subject's token in this tenant: 32 lower-case hex digits. */
export function subjectToken(tenantId: string, subject: string): string {
  checkSubject(subject);
  return createHash('sha256')
    .update(`bulwark-subject\0${tenantId.toLowerCase()}\0${subject}`)
    .digest('hex')
    .slice(0, 32);
}

/** `s-{token}-`: how every object id of the subject begins. */
export function subjectIdPrefix(tenantId: string, subject: string): string {
  return `s-${subjectToken(tenantId, subject)}-`;
}

/**
 * An object id for one of the subject's objects: `s-{token}-{rest}`, `rest` 1-91 of
 * `A-Z a-z 0-9 _ -` (default: a random UUID), so the id stays within the layout's 128.
 */
export function subjectObjectId(tenantId: string, subject: string, rest: string = randomUUID()): string {
  if (!/^[A-Za-z0-9_-]{1,91}$/.test(rest))
    throw new ValidationError('object id', [{ path: 'rest', message: 'must be 1-91 letters, digits, _ or -' }]);
  return `${subjectIdPrefix(tenantId, subject)}${rest}`;
}

export interface SubjectObject extends ParsedKey {
  key: string;
  size: number;
}

/** Every object of one class of the tenant that parses in the layout, in key order. */
async function* listClass(storage: Storage, tenantId: string, cls: ObjectClass): AsyncGenerator<SubjectObject> {
  const prefix = classPrefix(tenantId, cls);
  const items = storage.client.listObjectsV2(storage.bucket, prefix, true) as unknown as AsyncIterable<BucketItem>;
  try {
    for await (const item of items) {
      if (!item.name) continue;
      let parsed: ParsedKey;
      try {
        parsed = parseObjectKey(item.name);
      } catch {
        continue; // not in the layout (written around Bulwark): not anyone's by this convention
      }
      yield { ...parsed, key: item.name, size: item.size };
    }
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    const code = storeErrorCode(err);
    throw new StorageUnavailableError(
      `object store at ${storage.endpointUrl} (S3_ENDPOINT) failed to list ${prefix}: ${code}`,
      code,
    );
  }
}

/**
 * Every object of the subject, class by class in key order: the one rule both the
 * subject export and the erasure find a subject's objects by. The store lists every key
 * of each class (S3 cannot list by the id part), so this costs one listing of the
 * tenant's objects; only the subject's are kept.
 * @throws StorageUnavailableError naming S3_ENDPOINT when the store fails
 */
export async function* listSubjectObjects(
  storage: Storage,
  tenantId: string,
  subject: string,
): AsyncGenerator<SubjectObject> {
  const idPrefix = subjectIdPrefix(tenantId, subject);
  for (const cls of SUBJECT_OBJECT_CLASSES)
    for await (const o of listClass(storage, tenantId, cls)) if (o.id.startsWith(idPrefix)) yield o;
}

/**
 * The user metadata (`x-amz-meta-…`) an export bundle carries its subject's token in.
 * A bundle's key stays a random UUID: keys are recorded in the `privacy:subject-exported`
 * entry, which must hold nothing derived from the subject, and the token goes with the
 * bundle when it is deleted.
 */
export const EXPORT_TOKEN_METADATA = 'bulwark-subject-token';

/** The headers that mark an export bundle as the subject's (given when its upload starts). */
export function exportTokenHeaders(tenantId: string, subject: string): Record<string, string> {
  return { [`x-amz-meta-${EXPORT_TOKEN_METADATA}`]: subjectToken(tenantId, subject) };
}

/**
 * The subject's earlier export bundles still in the store: each bundle of the tenant
 * (class `exports`, kept 7 days by default) whose metadata holds the subject's token,
 * so one HEAD per bundle of the tenant. Bundles written before bundles carried the
 * token (Bulwark before this change) are not found; they leave with their retention.
 * @throws StorageUnavailableError naming S3_ENDPOINT when the store fails
 */
export async function* listSubjectExports(
  storage: Storage,
  tenantId: string,
  subject: string,
): AsyncGenerator<SubjectObject> {
  const token = subjectToken(tenantId, subject);
  for await (const o of listClass(storage, tenantId, 'exports')) {
    let meta: Record<string, unknown>;
    try {
      const stat = await storeCall(storage, `read the metadata of ${o.key}`, () =>
        storage.client.statObject(storage.bucket, o.key),
      );
      meta = stat.metaData as Record<string, unknown>;
    } catch (err) {
      const code = err instanceof StorageUnavailableError ? err.storeCode : undefined;
      if (code === 'NotFound' || code === 'NoSuchKey') continue; // gone since the listing
      throw err;
    }
    if (meta[EXPORT_TOKEN_METADATA] === token) yield o;
  }
}
