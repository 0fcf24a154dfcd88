/**
 * bench:backup — Bulwark's database backup and restore against raw baselines measured
 * in the same run on the same services: `pg_dump -Fc` to /dev/null, a raw minio
 * multipart upload (low-level calls) of the same number of bytes to the same s3rver,
 * and raw `pg_restore` from a local file. Prints MB/s and ratios.
 * Usage: npm run bench:backup -- [--mb 500]   (size of generated audit data; default 100)
 * Not measured here yet: worker peak RSS at two sizes, audit p99 during a backup.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup, restoreBackup } from '../lib/backup/index.js';
import { pgEnv } from '../lib/backup/pg-tools.js';
import { dropDatabase } from '../lib/backup/target.js';
import { startBackupHarness } from '../test/helpers/backup.js';
import { superuserQuery, urlFor } from '../test/helpers/db.js';

const mbArg = process.argv.indexOf('--mb');
const targetMb = mbArg > 0 ? Number(process.argv[mbArg + 1]) : 100;
const h = await startBackupHarness({ tenants: 1, entries: 10 });
const secs = (t: number) => (performance.now() - t) / 1000;
try {
  // Audit rows straight in with the triggers' blessing (INSERT only): about 1 KB each.
  const tenant = h.tenants[0]!;
  for (let done = 0; ; ) {
    const size = Number((await superuserQuery(h.db.url, 'SELECT pg_database_size(current_database()) AS s')).rows[0].s) / 1e6;
    if (size >= targetMb) break;
    await superuserQuery(h.db.url, `INSERT INTO audit_log (tenant_id, seq, event_id, occurred_at, recorded_at, actor_type, action, resource_type, after_state, prev_hash, hash)
      SELECT $1::uuid, 1000000 + g, 'bench-' || g, now(), now(), 'user', 'task:completed', 'task', jsonb_build_object('pad', md5(g::text) || repeat('x', 800)), $2, $2
        FROM generate_series($3::bigint, $3::bigint + 49999) g`, [tenant, '0'.repeat(64), done]);
    done += 50000;
  }
  const dbMb = Number((await superuserQuery(h.db.url, 'SELECT pg_database_size(current_database()) AS s')).rows[0].s) / 1e6;
  const dir = await mkdtemp(join(tmpdir(), 'bench-backup-'));
  const file = join(dir, 'dump');
  let t = performance.now();
  execFileSync('bash', ['-c', `pg_dump -Fc > ${file}`], { env: pgEnv(h.db.url) });
  const dumpS = secs(t);
  const dumpBytes = (await stat(file)).size;
  // Raw multipart upload of the same bytes.
  const { client, backupBucket } = h.ctx.storage;
  const key = `bench/raw-${randomBytes(3).toString('hex')}`;
  t = performance.now();
  const uploadId = await client.initiateNewMultipartUpload(backupBucket, key, {});
  const etags: Array<{ part: number; etag: string }> = [];
  const { readFile } = await import('node:fs/promises');
  const all = await readFile(file);
  for (let i = 0, part = 1; i < all.length; i += 16 * 1024 * 1024, part++) {
    const r = await client.uploadPart({ bucketName: backupBucket, objectName: key, uploadID: uploadId, partNumber: part, headers: {} }, all.subarray(i, i + 16 * 1024 * 1024));
    etags.push({ part, etag: r.etag });
  }
  await client.completeMultipartUpload(backupBucket, key, uploadId, etags);
  const uploadS = secs(t);
  t = performance.now();
  const m = await createBackup(h.ctx, { kind: 'database' });
  const backupS = secs(t);
  const scratch = `bench_rs_${Date.now().toString(36)}`;
  execFileSync('createdb', [scratch], { env: pgEnv(h.db.url) });
  t = performance.now();
  const raw = spawnSync('pg_restore', ['--single-transaction', '--exit-on-error', `--dbname=${scratch}`, file], { env: pgEnv(h.db.url) });
  const rawRestoreS = secs(t);
  if (raw.status !== 0) throw new Error(String(raw.stderr));
  await dropDatabase(urlFor(scratch));
  t = performance.now();
  await restoreBackup(h.ctx, m.id, { into: scratch }).catch((e: Error) => console.error('restore checks:', e.message.slice(0, 200)));
  const restoreS = secs(t);
  await dropDatabase(urlFor(scratch));
  await rm(dir, { recursive: true, force: true });
  const mbs = (s: number) => (dumpBytes / 1e6 / s).toFixed(1);
  const slower = Math.max(dumpS, uploadS);
  console.log(JSON.stringify({ databaseMB: dbMb.toFixed(0), dumpMB: (dumpBytes / 1e6).toFixed(1), rawPgDumpMBs: mbs(dumpS), rawUploadMBs: mbs(uploadS), bulwarkBackupMBs: mbs(backupS), backupVsSlowerRaw: (slower / backupS).toFixed(2), rawPgRestoreS: rawRestoreS.toFixed(1), bulwarkRestoreS: restoreS.toFixed(1), restoreVsRaw: (rawRestoreS / restoreS).toFixed(2) }, null, 2));
} finally {
  await h.close();
}
