/**
 * A stream cut into encrypted part objects. Writing: plaintext flows straight into an
 * `age` process; when a part's plaintext reaches the part size its ciphertext is
 * uploaded while the next part is being encrypted, so at most two parts' ciphertext
 * are in memory whatever the stream's size, and the source is read only as fast as
 * parts are uploaded (backpressure). Reading: each part is downloaded whole, its size
 * and SHA-256 checked, decrypted, and its plaintext SHA-256 checked before a single
 * byte of it is handed on, so a bad part is refused by name before it is used.
 */
import { createHash } from 'node:crypto';
import { startEncryption, decrypt, AgeError, cipherCapacity, type AgeEncryption } from './age.js';
import type { BackupStore, OnProgress } from './context.js';
import type { PartRecord } from './manifest.js';
import { getBytes, putBytes } from './store.js';

/** How every age file starts (the format's version line). */
const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');

export interface WritePartsOptions {
  stream: string;
  /** The object key of part n (1-based). */
  keyOf: (n: number) => string;
  recipient: string;
  partSize: number;
  onProgress?: OnProgress;
  /** Called with each part as it is uploaded (the objects job records them to resume). */
  onPart?: (part: PartRecord) => void;
}

interface OpenPart {
  index: number;
  age: AgeEncryption;
  plain: ReturnType<typeof createHash>;
  plainSize: number;
}

/** Encrypt and upload `source` as parts; resolves to their records, in order. */
export async function writeParts(
  store: BackupStore,
  source: AsyncIterable<Buffer>,
  o: WritePartsOptions,
): Promise<PartRecord[]> {
  const parts: PartRecord[] = [];
  let open: OpenPart | undefined;
  let uploading: Promise<void> | undefined;
  let next = 1;
  let bytes = 0;
  // Two ciphertext buffers, taken in turn: part n+2 starts only after close(n+1), which
  // waited for part n's upload, so the buffer it reuses is free again.
  const buffers: Buffer[] = [];
  // Written through once, so every page is resident from the first part: the process
  // takes its full size at once, whether the stream fills one part or a hundred.
  const bufferOf = (index: number) => (buffers[index % 2] ??= Buffer.allocUnsafe(cipherCapacity(o.partSize)).fill(0));
  const start = (): OpenPart => ({
    index: next,
    age: startEncryption(o.recipient, bufferOf(next++)),
    plain: createHash('sha256'),
    plainSize: 0,
  });
  const close = async (p: OpenPart) => {
    const ciphertext = await p.age.finish();
    // Never upload a part that cannot hold its plaintext: age's header, then at least one
    // 16-byte tag more than the plaintext. A short output (a lost read) fails the backup.
    if (!ciphertext.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC) || ciphertext.length < p.plainSize + 16)
      throw new AgeError(
        `age output for part ${p.index} is short or not an age file (${ciphertext.length} bytes for ${p.plainSize})`,
        '',
      );
    const record: PartRecord = {
      stream: o.stream,
      index: p.index,
      key: o.keyOf(p.index),
      size: ciphertext.length,
      plainSize: p.plainSize,
      sha256: p.age.sha256(),
      plainSha256: p.plain.digest('hex'),
    };
    // One upload in flight: wait for the previous before starting this one.
    await uploading;
    uploading = putBytes(store, record.key, ciphertext).then(() => {
      parts.push(record);
      bytes += record.size;
      o.onPart?.(record);
      o.onProgress?.({ phase: 'uploading', done: bytes, part: record.key });
    });
    // Surface a failed upload at the next await, not as an unhandled rejection.
    uploading.catch(() => undefined);
  };
  try {
    for await (const chunk of source) {
      let offset = 0;
      while (offset < chunk.length) {
        open ??= start();
        const take = Math.min(o.partSize - open.plainSize, chunk.length - offset);
        const piece = chunk.subarray(offset, offset + take);
        open.plain.update(piece);
        open.plainSize += take;
        offset += take;
        await open.age.write(piece);
        if (open.plainSize === o.partSize) {
          const full = open;
          open = undefined;
          await close(full);
        }
      }
    }
    // An empty stream still gets one (empty) part, so every stream has a first part.
    if (open || (parts.length === 0 && !uploading)) await close(open ?? start());
    await uploading;
    return parts;
  } catch (err) {
    open?.age.abort();
    await uploading?.catch(() => undefined);
    throw err;
  }
}

/** Encrypt one plaintext held in memory and upload it as part `index` of `stream`. */
export async function writeOnePart(
  store: BackupStore,
  plaintext: Buffer,
  o: { stream: string; index: number; key: string; recipient: string },
): Promise<PartRecord> {
  const age = startEncryption(o.recipient);
  try {
    await age.write(plaintext);
    const ciphertext = await age.finish();
    const record: PartRecord = {
      stream: o.stream,
      index: o.index,
      key: o.key,
      size: ciphertext.length,
      plainSize: plaintext.length,
      sha256: age.sha256(),
      plainSha256: createHash('sha256').update(plaintext).digest('hex'),
    };
    await putBytes(store, o.key, ciphertext);
    return record;
  } catch (err) {
    age.abort();
    throw err;
  }
}

/** A part that failed a check: the message names the part and what was wrong. */
export class PartError extends Error {
  constructor(
    readonly part: string,
    problem: string,
  ) {
    super(`part ${part}: ${problem}`);
    this.name = 'PartError';
  }
}

/** Download, check and decrypt one part. */
export async function readPart(store: BackupStore, part: PartRecord, identities: readonly string[]): Promise<Buffer> {
  const ciphertext = await getBytes(store, part.key);
  if (!ciphertext) throw new PartError(part.key, 'is missing from the backup bucket');
  if (ciphertext.length !== part.size)
    throw new PartError(
      part.key,
      `is ${ciphertext.length} bytes, the manifest says ${part.size} (truncated or replaced)`,
    );
  if (createHash('sha256').update(ciphertext).digest('hex') !== part.sha256)
    throw new PartError(part.key, 'SHA-256 of the ciphertext does not match the manifest (corrupted)');
  let plain: Buffer;
  try {
    plain = await decrypt(ciphertext, identities);
  } catch (err) {
    const detail = err instanceof AgeError ? err.detail.split('\n')[0] : String(err);
    throw new PartError(part.key, `does not decrypt with BACKUP_KEYS (wrong or rotated-away key?): ${detail}`);
  }
  if (plain.length !== part.plainSize || createHash('sha256').update(plain).digest('hex') !== part.plainSha256) {
    throw new PartError(
      part.key,
      'decrypted content does not match the manifest (a part from elsewhere, or reordered)',
    );
  }
  return plain;
}

/**
 * The plaintext of a stream's parts in order, each checked before it is yielded, the
 * next part downloaded while the consumer handles the current one.
 */
export async function* readStream(
  store: BackupStore,
  parts: readonly PartRecord[],
  identities: readonly string[],
  onProgress?: OnProgress,
): AsyncGenerator<Buffer> {
  const ordered = [...parts].sort((a, b) => a.index - b.index);
  ordered.forEach((p, i) => {
    if (p.index !== i + 1)
      throw new PartError(p.key, `is numbered ${p.index}, expected ${i + 1} (a part is missing from the manifest)`);
  });
  const total = ordered.reduce((n, p) => n + p.size, 0);
  let done = 0;
  let pending = ordered[0] ? readPart(store, ordered[0], identities) : undefined;
  for (let i = 0; i < ordered.length; i++) {
    const current = pending!;
    current.catch(() => undefined);
    pending = ordered[i + 1] ? readPart(store, ordered[i + 1]!, identities) : undefined;
    pending?.catch(() => undefined);
    const plain = await current;
    done += ordered[i]!.size;
    onProgress?.({ phase: 'reading', done, total, part: ordered[i]!.key });
    yield plain;
  }
}
