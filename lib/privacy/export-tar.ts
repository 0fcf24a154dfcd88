/**
 * A streamed POSIX ustar archive: what a subject export bundle is (before gzip). Each
 * member's size must be known before its bytes (the header holds it), so callers hand
 * whole buffers for NDJSON chunks and a sized stream for an object. Every member's
 * SHA-256 is taken as it passes, for the manifest written last. `tar -xzf` reads it.
 */
import { createHash } from 'node:crypto';

const BLOCK = 512;
/** Largest member: the 11 octal digits of a ustar size field. */
export const TAR_MAX_MEMBER_BYTES = 8 ** 11 - 1;

export interface TarMember {
  /** A relative path of `/`-separated segments, ASCII, at most 255 bytes. */
  path: string;
  size: number;
  body: Buffer | AsyncIterable<Buffer | Uint8Array>;
}

/** What was written for one member: the manifest's file record. */
export interface TarFile {
  path: string;
  bytes: number;
  sha256: string;
}

function splitPath(path: string): { name: string; prefix: string } {
  if (!/^[\x21-\x7e]+(\/[\x21-\x7e]+)*$/.test(path) || path.split('/').includes('..'))
    throw new Error(`tar: member path ${JSON.stringify(path)} is not a plain relative path`);
  if (path.length <= 100) return { name: path, prefix: '' };
  // ustar: a longer path is split at a "/" into prefix (<= 155) and name (<= 100).
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    if (i <= 155 && path.length - i - 1 <= 100) return { prefix: path.slice(0, i), name: path.slice(i + 1) };
  }
  throw new Error(`tar: member path ${path} is too long for ustar`);
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** The 512-byte ustar header of a regular file. */
export function tarHeader(path: string, size: number, mtime: Date): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > TAR_MAX_MEMBER_BYTES)
    throw new Error(`tar: member ${path} has a size (${size}) ustar cannot hold`);
  const { name, prefix } = splitPath(path);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'ascii');
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // the checksum counts its own field as spaces
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/**
 * The archive's bytes, member after member, then the two zero blocks that end it.
 * `onFile` is called when a member is complete (before the next is read), so a member
 * built later (the manifest) can list every file before it.
 * @throws when a member's body is not exactly its declared size
 */
export async function* tarStream(
  members: AsyncIterable<TarMember>,
  onFile: (file: TarFile) => void,
  mtime: Date,
): AsyncGenerator<Buffer> {
  for await (const m of members) {
    yield tarHeader(m.path, m.size, mtime);
    const hash = createHash('sha256');
    let bytes = 0;
    const chunks = Buffer.isBuffer(m.body) ? [m.body] : m.body;
    for await (const raw of chunks) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      bytes += chunk.length;
      if (bytes > m.size) throw new Error(`tar: member ${m.path} is longer than its ${m.size} bytes`);
      hash.update(chunk);
      yield chunk;
    }
    if (bytes !== m.size) throw new Error(`tar: member ${m.path} ended at ${bytes} of its ${m.size} bytes`);
    yield padding(m.size);
    onFile({ path: m.path, bytes, sha256: hash.digest('hex') });
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Read an archive held in memory back into its members (tests and `verifyBundle`). */
export function readTar(archive: Buffer): Array<{ path: string; body: Buffer }> {
  const out: Array<{ path: string; body: Buffer }> = [];
  for (let at = 0; at + BLOCK <= archive.length;) {
    const h = archive.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    const field = (start: number, len: number) =>
      h
        .subarray(start, start + len)
        .toString('ascii')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim(), 8);
    const prefix = field(345, 155);
    const path = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    out.push({ path, body: archive.subarray(at + BLOCK, at + BLOCK + size) });
    at += BLOCK + size + padding(size).length;
  }
  return out;
}
