/**
 * A real S3-protocol server for one test file: s3rver in a child process of its own
 * (it encrypts list continuation tokens with DES, which Node 20's OpenSSL 3 refuses
 * unless the legacy provider is loaded; that option must never reach our processes),
 * on a free port, over a temporary folder removed on stop. Every server still running
 * when the test process exits is SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './env.js';

const S3RVER = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));

export interface S3Server {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  /** S3_* variables pointing Bulwark at this server (its buckets: fresh random names). */
  env: Record<string, string>;
  /** Kill the server (SIGKILL, which a store outage looks like) and remove its folder. */
  stop(): Promise<void>;
  /** Kill it but keep the folder, so start() on the same port brings the same data back. */
  pause(): Promise<void>;
  /** Start it again on the same port after pause(). */
  resume(): Promise<void>;
}

const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

function spawnS3rver(dir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [S3RVER, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--no-vhost-buckets', '-s'],
    {
      env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const lines = createInterface({ input: child.stdout! });
  const listening = new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /listening on [^\s]*:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) =>
      reject(new Error(`s3rver exited (${code}) before listening: ${stderr.slice(0, 500)}`)),
    );
  });
  return withTimeout(listening, 15_000, 's3rver to listen').then(
    (p) => ({ child, port: p }),
    (err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    },
  );
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await withTimeout(exited, 5000, 's3rver to exit');
}

/** Random bucket names, so test files sharing a folder-less server never see each other's objects. */
function bucketNames(): { bucket: string; backupBucket: string } {
  const tag = Math.random().toString(36).slice(2, 10);
  return { bucket: `t-${tag}`, backupBucket: `t-${tag}-backups` };
}

export async function startS3Server(): Promise<S3Server> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-s3-'));
  let { child, port } = await spawnS3rver(dir, 0);
  const endpoint = `http://127.0.0.1:${port}`;
  const { bucket, backupBucket } = bucketNames();
  return {
    endpoint,
    env: {
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      S3_BUCKET: bucket,
      S3_BACKUP_BUCKET: backupBucket,
    },
    async stop() {
      await kill(child);
      await rm(dir, { recursive: true, force: true });
    },
    async pause() {
      await kill(child);
    },
    async resume() {
      ({ child } = await spawnS3rver(dir, port));
    },
  };
}
