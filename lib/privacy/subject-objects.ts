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
 * what a subject export (and an erasure) lists by. Anyone holding a subject can compute
 * its token: it hides the subject from readers of keys, not from a guess.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { BucketItem } from 'minio';
import { storeErrorCode, StorageUnavailableError, type Storage } from '../clients/storage.js';
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

/**
 * Every object of the subject, class by class in key order. The store lists every key
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
  for (const cls of SUBJECT_OBJECT_CLASSES) {
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
        if (parsed.id.startsWith(idPrefix)) yield { ...parsed, key: item.name, size: item.size };
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
}
