/**
 * The object-store client factory (the `minio` package: MinIO in production, s3rver on
 * development machines and in tests). Nothing connects here: a request is made only
 * when a caller asks for one, so a store that is down costs nothing until it is needed.
 *
 * Errors from here name S3_ENDPOINT and the store's error code, never the keys: the
 * client's own messages can echo request details, so they are not passed on verbatim.
 */
import * as Minio from 'minio';
import type { StorageConfig } from '../config.js';
import { TimeoutError, withTimeout } from '../time.js';

export interface Storage {
  readonly client: Minio.Client;
  /** Tenant data (`tenant/{id}/…`, lib/storage/keys.ts). */
  readonly bucket: string;
  /** Backups, apart from tenant data. */
  readonly backupBucket: string;
  /** S3_ENDPOINT without credentials, for messages. */
  readonly endpointUrl: string;
  readonly region: string;
}

/** How long one control call (bucket check, probe) may take before the store counts as unreachable. */
export const STORE_CALL_TIMEOUT_MS = 5000;

/** The store did not answer, or answered with an error; says which endpoint, never the keys. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  readonly code = 'storage_unavailable';
  constructor(
    message: string,
    /** The store's or the network's error code (ECONNREFUSED, AccessDenied, timeout), when known. */
    readonly storeCode?: string,
  ) {
    super(message);
  }

  /** The HTTP status for error handlers that read it: the store is a dependency that may come back. */
  get statusCode(): number {
    return 503;
  }
}

export function createStorage(config: StorageConfig): Storage {
  const client = new Minio.Client({
    endPoint: config.endPoint,
    port: config.port,
    useSSL: config.useSSL,
    region: config.region,
    accessKey: config.accessKey,
    secretKey: config.secretKey,
    // s3rver and MinIO behind a compose service name have no per-bucket DNS names.
    pathStyle: true,
    // Callers that want retries (backup jobs) retry through BullMQ with backoff; a
    // request made for an API call or a probe should fail fast instead.
    retryOptions: { disableRetry: true },
  });
  return Object.freeze({
    client,
    bucket: config.bucket,
    backupBucket: config.backupBucket,
    endpointUrl: config.endpointUrl,
    region: config.region,
  });
}

/** The code an error from the client or the network carries, without its message. */
export function storeErrorCode(err: unknown): string {
  if (err instanceof TimeoutError) return 'timeout';
  const e = err as { code?: unknown; name?: unknown } | undefined;
  if (e && typeof e.code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(e.code)) return e.code;
  if (e && typeof e.name === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(e.name)) return e.name;
  return 'unknown';
}

/** Wraps any failure of a store call in a StorageUnavailableError naming the endpoint and what was being done. */
export async function storeCall<T>(
  storage: Storage,
  what: string,
  call: () => Promise<T>,
  timeoutMs = STORE_CALL_TIMEOUT_MS,
): Promise<T> {
  try {
    return await withTimeout(call(), timeoutMs, what);
  } catch (err) {
    const code = storeErrorCode(err);
    const hint = code === 'timeout' ? `no answer within ${timeoutMs} ms` : code;
    throw new StorageUnavailableError(
      `object store at ${storage.endpointUrl} (S3_ENDPOINT) failed to ${what}: ${hint}`,
      code,
    );
  }
}

/**
 * Create the tenant and backup buckets when absent (`bulwark migrate`). Returns the
 * names it created. Safe to run concurrently: a bucket made by another run meanwhile
 * counts as present.
 * @throws StorageUnavailableError naming S3_ENDPOINT when the store cannot be reached
 */
export async function ensureBuckets(storage: Storage): Promise<string[]> {
  const created: string[] = [];
  for (const bucket of [storage.bucket, storage.backupBucket]) {
    const exists = await storeCall(storage, `check bucket ${bucket}`, () => storage.client.bucketExists(bucket));
    if (exists) continue;
    try {
      await storeCall(storage, `create bucket ${bucket}`, () => storage.client.makeBucket(bucket, storage.region));
      created.push(bucket);
    } catch (err) {
      if (
        err instanceof StorageUnavailableError &&
        (err.storeCode === 'BucketAlreadyOwnedByYou' || err.storeCode === 'BucketAlreadyExists')
      )
        continue;
      throw err;
    }
  }
  return created;
}

/**
 * Whether the store answers and the tenant bucket exists (readiness and the
 * `bulwark_object_store_up` metric). Throws StorageUnavailableError when it does not.
 */
export async function probeStorage(storage: Storage, timeoutMs = STORE_CALL_TIMEOUT_MS): Promise<void> {
  const exists = await storeCall(
    storage,
    `check bucket ${storage.bucket}`,
    () => storage.client.bucketExists(storage.bucket),
    timeoutMs,
  );
  if (!exists)
    throw new StorageUnavailableError(
      `object store at ${storage.endpointUrl} (S3_ENDPOINT) has no bucket ${storage.bucket} (run bulwark migrate)`,
      'NoSuchBucket',
    );
}
