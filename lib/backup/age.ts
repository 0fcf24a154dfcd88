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
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
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

/**
 * What a process writes to stdout, gathered as it comes. Into `into` when given (a
 * buffer the caller reuses from part to part; the output is copied in and each chunk
 * dropped at once), else as chunks joined at the end. Without reuse every part left two
 * garbage copies of itself (the chunks and their join) for the GC to find, and the
 * backup's peak RSS grew with the database's size. With `digest`, every chunk is hashed
 * as it comes: a 16 MiB part hashed at once held the event loop for tens of ms, and
 * pg_dump's pipe stood full meanwhile.
 */
function collect(
  child: ChildProcess,
  into?: Buffer,
  digest?: Hash,
): { out: () => Buffer; err: () => string; exit: Promise<number | null> } {
  const chunks: Buffer[] = [];
  let filled = 0;
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    digest?.update(d);
    // Past the buffer (it never should be, see cipherCapacity): the rest as chunks.
    if (into && chunks.length === 0 && filled + d.length <= into.length) {
      d.copy(into, filled);
      filled += d.length;
    } else chunks.push(d);
  });
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2000)));
  // A write to a process that already died (bad key) must fail the promise, not the process.
  child.stdin!.on('error', () => undefined);
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const out = () =>
    !into
      ? Buffer.concat(chunks)
      : chunks.length
        ? Buffer.concat([into.subarray(0, filled), ...chunks])
        : into.subarray(0, filled);
  return { out, err: () => stderr.trim(), exit };
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
  /** The ciphertext's SHA-256 (hex), hashed as it arrived; once, after finish(). */
  sha256(): string;
  abort(): void;
}

export function startEncryption(recipient: string, into?: Buffer): AgeEncryption {
  const child = atBackupPriority(
    spawn('age', ['--encrypt', '--recipient', recipient], { stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  const digest = createHash('sha256');
  const io = collect(child, into, digest);
  let failed: Error | undefined;
  io.exit.catch((err: Error) => (failed = err));
  return {
    async write(chunk) {
      if (failed) throw failed;
      if (!child.stdin!.write(chunk)) await Promise.race([once(child.stdin!, 'drain'), io.exit]);
    },
    async finish() {
      child.stdin!.end();
      const code = await io.exit;
      if (code !== 0) throw new AgeError(`age --encrypt failed (exit ${code})`, io.err());
      return io.out();
    },
    sha256: () => digest.digest('hex'),
    abort() {
      child.kill('SIGKILL');
    },
  };
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
