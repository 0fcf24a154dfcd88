/**
 * Encryption in the age format through Debian's `age` command (docs/decisions/0006:
 * about 4-5 times the throughput of the pure-JavaScript `age-encryption` package here).
 * age is authenticated (ChaCha20-Poly1305 per 64 KiB chunk, a final-chunk flag against
 * truncation), so a flipped byte, a cut-off part or a wrong key makes `age -d` fail.
 *
 * Encryption needs only the public recipient, passed as an argument. Decryption needs
 * the identities: they go to `age -i` through a pipe (decrypt below), never a file,
 * never the command line (/proc/PID/cmdline is world-readable; a process's environment
 * is readable only by its own user, who already holds BACKUP_KEYS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createNamedPipe } from './named-pipe.js';
import { atBackupPriority } from './nice.js';

/** A failure of the age command; `detail` is its stderr, which never holds key material. */
export class AgeError extends Error {
  constructor(
    message: string,
    readonly detail: string,
  ) {
    super(message);
    this.name = 'AgeError';
  }
}

/** What a process writes to stdout (if piped) and stderr, gathered as it comes, and its exit. */
function collect(child: ChildProcess): { out: () => Buffer; err: () => string; exit: Promise<number | null> } {
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => chunks.push(d));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2000)));
  // A write to a process that already died (bad key) must fail the promise, not the process.
  child.stdin!.on('error', () => undefined);
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  return { out: () => Buffer.concat(chunks), err: () => stderr.trim(), exit };
}

/**
 * The most ciphertext `plainSize` bytes of plaintext can become: age's header (one
 * X25519 recipient stanza and the MAC, under 300 bytes) plus a 16-byte tag per 64 KiB
 * chunk (and one for a final empty chunk).
 */
export const cipherCapacity = (plainSize: number) => plainSize + (Math.ceil(plainSize / 65536) + 1) * 16 + 1024;

/**
 * One age encryption in progress: write plaintext, then finish() for the ciphertext.
 * The ciphertext is held in memory (one part; in `into` when given, which the result
 * is a view of, so `into` must not be reused before the result is done with), the
 * plaintext is not.
 */
export interface AgeEncryption {
  write(chunk: Buffer): Promise<void>;
  finish(): Promise<Buffer>;
  abort(): void;
}

/**
 * Writes `chunk` to a child's stdin and resolves once it has been handed to the pipe, so
 * the caller may reuse the chunk's memory (named-pipe.ts: chunksOf). Rejects when the
 * child is gone (its exit is `exit`).
 */
function writeAll(child: ChildProcess, chunk: Buffer, exit: Promise<number | null>): Promise<void> {
  const written = new Promise<void>((resolve, reject) =>
    child.stdin!.write(chunk, (err) => (err ? reject(err) : resolve())),
  );
  const died = exit.then((code) => {
    throw new AgeError(`age exited (code ${code}) while reading its input`, '');
  });
  died.catch(() => undefined);
  return Promise.race([written, died]);
}

/**
 * Ciphertext straight into `into` through a named pipe (`age --output`), with no Buffer
 * per read: the part buffers are the only memory the output takes.
 */
async function startIntoBuffer(recipient: string, into: Buffer): Promise<AgeEncryption> {
  const pipe = await createNamedPipe();
  const child = atBackupPriority(
    spawn('age', ['--encrypt', '--recipient', recipient, '--output', pipe.path], { stdio: ['pipe', 'ignore', 'pipe'] }),
  );
  const io = collect(child);
  io.exit.then(
    () => pipe.writerGone(),
    () => pipe.writerGone(),
  );
  const overflow: Buffer[] = [];
  const filled = (async () => {
    let at = 0;
    for (;;) {
      // Past the buffer (it never should be, see cipherCapacity): the rest as chunks.
      if (at === into.length) {
        const extra = Buffer.allocUnsafe(65536);
        const n = await pipe.read(extra, 0, extra.length);
        if (n === 0) return at;
        overflow.push(extra.subarray(0, n));
        continue;
      }
      const n = await pipe.read(into, at, into.length - at);
      if (n === 0) return at;
      at += n;
    }
  })();
  filled.catch(() => undefined);
  const size = async () => {
    const n = await filled;
    return overflow.length ? Buffer.concat([into.subarray(0, n), ...overflow]) : into.subarray(0, n);
  };
  // The pipe is closed once the reader is done with it (age gone: it ends at once).
  return encryption(child, io, size, () =>
    filled.then(
      () => pipe.close(),
      () => pipe.close(),
    ),
  );
}

/** The AgeEncryption over a started `age --encrypt`: its output comes from `output` once it exits 0. */
function encryption(
  child: ChildProcess,
  io: ReturnType<typeof collect>,
  output: () => Promise<Buffer>,
  release: () => Promise<void> = () => Promise.resolve(),
): AgeEncryption {
  let failed: Error | undefined;
  io.exit.catch((err: Error) => (failed = err));
  return {
    async write(chunk) {
      if (failed) throw failed;
      await writeAll(child, chunk, io.exit);
    },
    async finish() {
      try {
        child.stdin!.end();
        const code = await io.exit;
        if (code !== 0) throw new AgeError(`age --encrypt failed (exit ${code})`, io.err());
        return await output();
      } finally {
        await release();
      }
    },
    abort() {
      child.kill('SIGKILL');
      void release();
    },
  };
}

/**
 * Start an encryption. With `into` (a buffer reused from part to part, of
 * cipherCapacity of the plaintext) the ciphertext lands in it; without, it is gathered
 * from age's stdout. Either way a write resolves once its chunk is in age's pipe.
 */
export async function startEncryption(recipient: string, into?: Buffer): Promise<AgeEncryption> {
  if (into) return startIntoBuffer(recipient, into);
  const child = atBackupPriority(
    spawn('age', ['--encrypt', '--recipient', recipient], { stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  const io = collect(child);
  return encryption(child, io, () => Promise.resolve(io.out()));
}

/**
 * Decrypt one age file held in memory with any of the identities. They reach
 * `age --identity /dev/fd/3` through a pipe: a here-document of `sh` (dash writes it to
 * a pipe, not a file) filled from an environment variable that is unset before age
 * starts. Never a file, never the command line. (Not bash's `<(printf …)`: bash
 * started with a bare environment reads ~/.bashrc, as if started by sshd, which took
 * 2-4 s on the build machines, once per part; nor a Node pipe on fd 3, which is a
 * socket that /dev/fd/3 cannot open.)
 */
export async function decrypt(ciphertext: Buffer, identities: readonly string[]): Promise<Buffer> {
  const child = spawn(
    'sh',
    [
      '-c',
      'ids=$BULWARK_AGE_IDENTITIES; unset BULWARK_AGE_IDENTITIES; exec age --decrypt --identity /dev/fd/3 3<<EOF\n$ids\nEOF\n',
    ],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BULWARK_AGE_IDENTITIES: identities.join('\n') },
    },
  );
  const io = collect(child);
  child.stdin!.end(ciphertext);
  const code = await io.exit;
  if (code !== 0) throw new AgeError(`age --decrypt failed (exit ${code})`, io.err());
  return io.out();
}
