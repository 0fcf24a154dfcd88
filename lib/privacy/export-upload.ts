/**
 * One object written as a multipart upload, part by part as its bytes arrive: memory
 * holds one part (8 MiB by default) whatever the object's size, and nothing is visible
 * under the key until `complete()`. A failed export calls `abort()`, so a store that
 * fails half way leaves no half-written bundle to be downloaded (a store that is gone
 * cannot be told to abort either: its unfinished upload stays invisible and MinIO drops
 * it after its stale-upload expiry, 24 h by default).
 *
 * The low-level multipart calls work on MinIO, S3 and s3rver alike (a streamed
 * `putObject` needs ListMultipartUploads, which s3rver lacks: docs/storage.md).
 */
import { createHash } from 'node:crypto';
import { storeCall, type Storage } from '../clients/storage.js';
import { onceMore } from '../backup/store.js';

/** Bytes per uploaded part (S3 wants at least 5 MiB for every part but the last). Default: 8 MiB. */
export const EXPORT_PART_BYTES = 8 * 1024 * 1024;
/** Longest one part's upload, or the complete call, may take before the store counts as gone. */
export const EXPORT_CALL_TIMEOUT_MS = 120_000;

export interface MultipartSink {
  write(chunk: Buffer): Promise<void>;
  /** Upload what is left and make the object visible; its size and SHA-256. */
  complete(): Promise<{ bytes: number; sha256: string }>;
  /** Give the upload up (best effort: a store that does not answer is not waited for long). */
  abort(): Promise<void>;
}

export async function openMultipart(
  storage: Storage,
  key: string,
  o: {
    contentType: string;
    partBytes?: number;
    /** More headers for the object (`x-amz-meta-…`). */ headers?: Record<string, string>;
  },
): Promise<MultipartSink> {
  const { client, bucket } = storage;
  const partBytes = o.partBytes ?? EXPORT_PART_BYTES;
  const uploadId = await storeCall(storage, `start the upload of ${key}`, () =>
    client.initiateNewMultipartUpload(bucket, key, { ...o.headers, 'Content-Type': o.contentType }),
  );
  const etags: Array<{ part: number; etag: string }> = [];
  const hash = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let bytes = 0;

  const upload = async (body: Buffer) => {
    const part = etags.length + 1;
    const r = await storeCall(
      storage,
      `upload part ${part} of ${key}`,
      () =>
        onceMore(() =>
          client.uploadPart(
            { bucketName: bucket, objectName: key, uploadID: uploadId, partNumber: part, headers: {} },
            body,
          ),
        ),
      EXPORT_CALL_TIMEOUT_MS,
    );
    etags.push({ part, etag: r.etag });
  };
  const flush = async (all: boolean) => {
    while (pendingBytes >= partBytes || (all && (pendingBytes > 0 || etags.length === 0))) {
      const joined = Buffer.concat(pending);
      const body = joined.subarray(0, Math.min(partBytes, joined.length));
      const rest = joined.subarray(body.length);
      pending = rest.length ? [rest] : [];
      pendingBytes = rest.length;
      await upload(body);
      if (all && pendingBytes === 0) break;
    }
  };

  return {
    async write(chunk) {
      hash.update(chunk);
      bytes += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= partBytes) await flush(false);
    },
    async complete() {
      await flush(true);
      await storeCall(
        storage,
        `complete the upload of ${key}`,
        () => client.completeMultipartUpload(bucket, key, uploadId, etags),
        EXPORT_CALL_TIMEOUT_MS,
      );
      return { bytes, sha256: hash.digest('hex') };
    },
    async abort() {
      pending = [];
      await storeCall(storage, `abort the upload of ${key}`, () =>
        client.abortMultipartUpload(bucket, key, uploadId),
      ).catch(() => undefined);
    },
  };
}
