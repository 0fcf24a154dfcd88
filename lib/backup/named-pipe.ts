/**
 * A named pipe (FIFO) in a private directory, for a tool that writes its output to a
 * path (pg_dump --file, age --output). Read through a pipe of Node's own, a tool's output
 * arrives as a new 64 KiB Buffer per read, which the GC finds late: for a 500 MB
 * database that was most of the backup process's growth in resident memory. Read from a
 * named pipe with fs.read, it goes into buffers the caller reuses. A FIFO holds no data
 * on disk (the kernel's pipe buffer only), so no copy of the dump is ever written.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface NamedPipe {
  /** Where the tool writes. */
  readonly path: string;
  /** Read up to `length` bytes into `into` at `offset`; 0 once the writer has exited (writerGone) and all is read. */
  read(into: Buffer, offset: number, length: number): Promise<number>;
  /**
   * The writer is gone (the tool exited): from now on an empty read is the end, and a
   * read still waiting for it to open the pipe (the tool failed before opening it) ends
   * with 0 instead of waiting forever. Must be called when the tool exits.
   */
  writerGone(): Promise<void>;
  /** Close the read end and remove the directory. */
  close(): Promise<void>;
}

export async function createNamedPipe(): Promise<NamedPipe> {
  // mkdtemp makes the directory 0700: no other user can open or replace the pipe.
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-pipe-'));
  const path = join(dir, 'out');
  try {
    await promisify(execFile)('mkfifo', ['-m', '600', path]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let handle: Promise<FileHandle> | undefined;
  let gone = false;
  // Opening for reading waits (in libuv's thread pool) until a writer opens the pipe;
  // once the writer is known to be gone, open without waiting: the read then sees the end.
  const reader = () => (handle ??= open(path, gone ? constants.O_RDONLY | constants.O_NONBLOCK : 'r'));
  return {
    path,
    async read(into, offset, length) {
      for (;;) {
        // Whether the tool had exited before this read: then an empty read is the end.
        const exited = gone;
        const { bytesRead } = await (await reader()).read(into, offset, length, null);
        // A pipe reads as ended whenever no writer has it open, as before the tool has
        // opened it (a read that came first, seen under load as an empty age part):
        // the end is the end only once the tool has exited. Until then, read again.
        if (bytesRead > 0 || exited) return bytesRead;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    async writerGone() {
      gone = true;
      // A reader waiting in open() is let through by a writer that opens and closes at
      // once; with no reader waiting the open fails (ENXIO) and there is nothing to do.
      const w = await open(path, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
      await w?.close();
    },
    async close() {
      const fh = await handle?.catch(() => undefined);
      await fh?.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The pipe's content as chunks that are views of one reused buffer: each chunk is valid
 * until the consumer asks for the next, so it must be done with it by then (copied,
 * hashed, or written and its write completed).
 */
export async function* chunksOf(pipe: NamedPipe, bufferSize = 256 * 1024): AsyncGenerator<Buffer> {
  const buffer = Buffer.allocUnsafe(bufferSize);
  for (;;) {
    const n = await pipe.read(buffer, 0, buffer.length);
    if (n === 0) return;
    yield buffer.subarray(0, n);
  }
}
