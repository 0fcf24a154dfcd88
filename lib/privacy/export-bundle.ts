/**
 * What a subject export bundle holds, member by member (docs/DATA_MANAGEMENT.md, "Data
 * subject rights"), as a gzipped tar:
 *
 *   audit-entries/00001.ndjson …  the audit entries naming the subject, chain order
 *   alerts/00001.ndjson …         the alerts about them, in the order received
 *   objects/{class}/{period}/{id}.{ext}   each of the subject's objects, as stored
 *   objects.ndjson                one line per object: key, class, size, SHA-256, path
 *   manifest.json                 last: counts, and every file's bytes and SHA-256
 *
 * NDJSON is cut into members of about 4 MiB (a tar member's size comes before its
 * bytes, so a member is held whole): memory stays bounded whatever the row count.
 * Each directory has at least its first member, empty when nothing matched.
 */
import type { Readable } from 'node:stream';
import { StorageUnavailableError, storeCall, storeErrorCode, type Storage } from '../clients/storage.js';
import type { TarFile, TarMember } from './export-tar.js';
import type { SubjectObject } from './subject-objects.js';

/** NDJSON bytes per tar member. Default: 4 MiB. */
export const NDJSON_MEMBER_BYTES = 4 * 1024 * 1024;

export const BUNDLE_FORMAT = 'bulwark-subject-export';
export const BUNDLE_VERSION = 1;

export interface BundleCounts {
  auditEntries: number;
  alerts: number;
  objects: number;
  objectBytes: number;
}

export interface ManifestFile extends TarFile {
  /** NDJSON members: how many lines (records) the file holds. */
  records?: number;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  exportId: string;
  tenantId: string;
  subject: string;
  createdAt: string;
  /** True when nothing of the subject was found: the bundle then says so, with zero counts. */
  empty: boolean;
  counts: BundleCounts;
  matching: Record<'auditEntries' | 'alerts' | 'objects' | 'withheld', string>;
  /** Every member before the manifest, in archive order. */
  files: ManifestFile[];
}

export const MATCHING: BundleManifest['matching'] = {
  auditEntries:
    'actorId or resourceId equal to the subject, or the subject as a string value anywhere inside before, after or metadata',
  alerts: 'userId equal to the subject, or the subject as a string value anywhere inside labels',
  objects: 'objects whose id begins with s-{token}-, the token derived from tenant and subject (docs/storage.md)',
  withheld: "ip and userAgent of entries whose actor is someone else (their data, not the subject's)",
};

/** NDJSON chunks (each ending in a newline) regrouped into members `{dir}/00001.ndjson`, … */
export async function* ndjsonMembers(
  dir: string,
  chunks: AsyncIterable<Buffer>,
  records: Map<string, number>,
  maxBytes = NDJSON_MEMBER_BYTES,
): AsyncGenerator<TarMember> {
  let held: Buffer[] = [];
  let bytes = 0;
  let lines = 0;
  let n = 0;
  const member = (): TarMember => {
    const path = `${dir}/${String(++n).padStart(5, '0')}.ndjson`;
    const body = Buffer.concat(held);
    records.set(path, lines);
    held = [];
    bytes = 0;
    lines = 0;
    return { path, size: body.length, body };
  };
  for await (const chunk of chunks) {
    held.push(chunk);
    bytes += chunk.length;
    for (const byte of chunk) if (byte === 0x0a) lines++;
    if (bytes >= maxBytes) yield member();
  }
  if (bytes > 0 || n === 0) yield member();
}

/** Where an object goes in the bundle. */
export const objectPath = (o: SubjectObject) => `objects/${o.class}/${o.period}/${o.id}.${o.ext}`;

/**
 * The object's bytes, opened for reading; undefined when it is gone since it was listed
 * (retention, an erasure). A store failure while reading is a StorageUnavailableError.
 */
export async function openObject(storage: Storage, o: SubjectObject): Promise<AsyncIterable<Buffer> | undefined> {
  let stream: Readable;
  try {
    stream = await storeCall(storage, `read ${o.key}`, () => storage.client.getObject(storage.bucket, o.key));
  } catch (err) {
    if (err instanceof StorageUnavailableError && (err.storeCode === 'NoSuchKey' || err.storeCode === 'NotFound'))
      return undefined;
    throw err;
  }
  return (async function* () {
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      const code = storeErrorCode(err);
      throw new StorageUnavailableError(
        `object store at ${storage.endpointUrl} (S3_ENDPOINT) failed while reading ${o.key}: ${code}`,
        code,
      );
    }
  })();
}

/** One objects.ndjson line. */
export function objectLine(o: SubjectObject, file: TarFile): string {
  return `${JSON.stringify({
    key: o.key,
    class: o.class,
    period: o.period,
    id: o.id,
    contentType: o.contentType,
    size: file.bytes,
    sha256: file.sha256,
    path: file.path,
  })}\n`;
}
