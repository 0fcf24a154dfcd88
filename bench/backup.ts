/**
 * bench:backup: Bulwark's backups and restore against raw baselines measured in the same
 * run on the same services (Postgres, a private s3rver):
 * - database backup end to end (a backup process of its own) against raw `pg_dump -Fc`
 *   to /dev/null and a raw minio multipart upload of the dump's bytes;
 * - restore against raw `pg_restore` of the same dump from a local file;
 * - peak RSS (VmHWM) of the backup process at a small and a large database;
 * - audit write p99 (one entry a transaction, ~40/s) while the large backup runs,
 *   against the same writes just before it; likewise around the backup floor;
 * - objects backup against a raw server-side copy loop of the same objects;
 * - floors (bench/backup-floor.ts): what the required parts alone reach, nothing of
 *   Bulwark: `pg_dump -Fc | age` uploaded as 16 MiB part objects, and the parts
 *   downloaded through `age -d | pg_restore` into a new database with the checks done
 *   raw (row counts, one chain walk); Bulwark's ratio to each.
 * The database is grown with chained audit entries (~1 KB, compressing ~2:1).
 *
 * Sizes: BENCH_BACKUP_MB (default 500), BENCH_BACKUP_SMALL_MB (100),
 * BENCH_BACKUP_OBJECTS_MB (100), BENCH_BACKUP_OBJECT_KB (256); BENCH_QUICK=1 for a
 * short run (60 / 20 MB, 8 MB of 64 KB objects). BENCH_BACKUP_PART=rss: only the peak RSS
 * of the small and the large backup (BENCH_MEM_TRACE=1 adds the peaks of
 * process.memoryUsage(): V8's heap against buffers outside it).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import pg from 'pg';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restoreBackup } from '../lib/backup/index.js';
import { backupKeys } from '../lib/backup/keys.js';
import { mapLimit } from '../lib/backup/iterate.js';
import { pgEnv } from '../lib/backup/pg-tools.js';
import { dropDatabase } from '../lib/backup/target.js';
import { startBackupHarness } from '../test/helpers/backup.js';
import { urlFor } from '../test/helpers/db.js';
import { floorBackup, floorRestore, rowCounts } from './backup-floor.js';
import { auditLatencies, growAuditTo, percentile, putObjects } from './backup-gen.js';
import { envInt } from './util.js';
import { ensureBuilt } from '../scripts/build.mjs';

const quick = process.env.BENCH_QUICK === '1';
const rssOnly = process.env.BENCH_BACKUP_PART === 'rss';
const bigMb = envInt('BENCH_BACKUP_MB', quick ? 60 : 500);
const smallMb = envInt('BENCH_BACKUP_SMALL_MB', quick ? 20 : 100);
const objectsMb = envInt('BENCH_BACKUP_OBJECTS_MB', quick ? 8 : 100);
const objectKb = envInt('BENCH_BACKUP_OBJECT_KB', quick ? 64 : 256);
const baselineMs = quick ? 5000 : 20_000;

const secs = (t: number) => (performance.now() - t) / 1000;
const f1 = (n: number) => Number(n.toFixed(1));
const f2 = (n: number) => Number(n.toFixed(2));
const say = (m: string) => process.stderr.write(`${m}\n`);

interface ChildResult {
  id: string;
  seconds: number;
  plainBytes: number;
  objects?: { count: number; bytes: number };
  hwmMb: number;
}

await ensureBuilt();
const h = await startBackupHarness({ tenants: 3, entries: 10, env: { BACKUP_PART_SIZE_MB: '16' } });
const child = (kind: string): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    // The compiled child, as a worker runs (no tsx loader in its memory).
    const script = fileURLToPath(new URL('../dist/bench/backup-child.js', import.meta.url));
    const p = spawn(process.execPath, [script, kind], {
      env: { ...process.env, ...h.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult)
        : reject(new Error(`backup child exited ${code}`)),
    );
  });
const dir = await mkdtemp(join(tmpdir(), 'bench-backup-'));
const stamp = Date.now().toString(36);
const scratch = [`bench_rs_raw_${stamp}`, `bench_rs_bw_${stamp}`, `bench_rs_floor_${stamp}`];
try {
  const [t0, t1, t2] = h.tenants as [string, string, string];
  say(`growing the database to ${smallMb} MB`);
  const smallSize = await growAuditTo(h.db.url, [t0, t1], smallMb);
  const small = await child('database');
  say(`small backup: ${small.seconds.toFixed(1)} s, peak RSS ${small.hwmMb.toFixed(0)} MB; growing to ${bigMb} MB`);
  const bigSize = await growAuditTo(h.db.url, [t0, t1], bigMb);
  if (rssOnly) {
    // BENCH_BACKUP_PART=rss: the two backups' peak RSS alone, nothing else measured.
    const bigRss = await child('database');
    console.log(
      JSON.stringify({ smallSize, bigSize, small, big: bigRss, ratio: f2(bigRss.hwmMb / small.hwmMb) }, null, 2),
    );
    process.exitCode = 0;
  } else {
    say('audit writes without a backup, then during one');
    const quiet = await auditLatencies(h.db.url, t2, { ms: baselineMs });
    const running = child('database');
    const during = await auditLatencies(h.db.url, t2, { until: running });
    const big = await running;

    say('raw pg_dump, raw upload');
    let t = performance.now();
    execFileSync('sh', ['-c', 'pg_dump -Fc > /dev/null'], { env: pgEnv(h.db.url) });
    const rawDumpS = secs(t);
    const file = join(dir, 'dump');
    execFileSync('sh', ['-c', `pg_dump -Fc > ${file}`], { env: pgEnv(h.db.url) });
    const dumpBytes = (await stat(file)).size;
    const { client, backupBucket } = h.ctx.storage;
    const all = await readFile(file);
    t = performance.now();
    const key = 'bench/raw-upload';
    const uploadId = await client.initiateNewMultipartUpload(backupBucket, key, {});
    const etags: Array<{ part: number; etag: string }> = [];
    for (let i = 0, part = 1; i < all.length; i += 16 * 1024 * 1024, part++) {
      const r = await client.uploadPart(
        { bucketName: backupBucket, objectName: key, uploadID: uploadId, partNumber: part, headers: {} },
        all.subarray(i, i + 16 * 1024 * 1024),
      );
      etags.push({ part, etag: r.etag });
    }
    await client.completeMultipartUpload(backupBucket, key, uploadId, etags);
    const rawUploadS = secs(t);

    say('backup floor: pg_dump -Fc | age, 16 MiB part objects');
    const keys0 = await backupKeys(h.ctx.config);
    // The audit writes' p99 around a floor backup too (what the raw pipeline alone does
    // to them), one of its own: the one timed below is restored and its rows counted.
    const floorQuiet = await auditLatencies(h.db.url, t2, { ms: baselineMs });
    const floorRun = floorBackup(
      h.db.url,
      { client, bucket: backupBucket, prefix: `bench/floor-p99-${stamp}` },
      keys0.recipients[0]!,
    );
    const floorDuring = await auditLatencies(h.db.url, t2, { until: floorRun });
    await floorRun;
    const sourceCounts = await (async () => {
      const c = new pg.Client({ connectionString: h.db.url });
      await c.connect();
      try {
        return await rowCounts(c);
      } finally {
        await c.end();
      }
    })();
    const floorB = await floorBackup(
      h.db.url,
      { client, bucket: backupBucket, prefix: `bench/floor-${stamp}` },
      keys0.recipients[0]!,
    );

    say('raw pg_restore, Bulwark restore');
    execFileSync('createdb', [scratch[0]!], { env: pgEnv(h.db.url) });
    t = performance.now();
    const raw = spawnSync('pg_restore', ['--single-transaction', '--exit-on-error', `--dbname=${scratch[0]}`, file], {
      env: pgEnv(h.db.url),
    });
    const rawRestoreS = secs(t);
    if (raw.status !== 0) throw new Error(String(raw.stderr));
    say('restore floor: createdb, parts | age -d | pg_restore, raw row counts and chain walk');
    const floorR = await floorRestore(
      h.db.url,
      scratch[2]!,
      { client, bucket: backupBucket, keys: floorB.keys },
      keys0.identities[0]!,
      sourceCounts,
    );
    t = performance.now();
    let loadedS = 0;
    const restored = await restoreBackup(h.ctx, big.id, {
      into: scratch[1]!,
      // The checks (row counts, every chain walked) start when the data is in.
      onProgress: (e) => void (e.phase === 'checking' && !loadedS && (loadedS = secs(t))),
    });
    const restoreS = secs(t);

    say(`objects: ${objectsMb} MB of ${objectKb} KB objects`);
    const objects = await putObjects(h.ctx, h.tenants, objectsMb, objectKb * 1024);
    const keys: string[] = [];
    for await (const item of client.listObjectsV2(h.ctx.storage.bucket, 'tenant/', true) as AsyncIterable<{
      name?: string;
    }>)
      if (item.name) keys.push(item.name);
    t = performance.now();
    await mapLimit(keys, 4, (k) =>
      client.copyObject(backupBucket, `bench/raw-copy/${k}`, `/${h.ctx.storage.bucket}/${k}`),
    );
    const rawCopyS = secs(t);
    const obj = await child('objects');

    const mbs = (bytes: number, s: number) => bytes / 1e6 / s;
    const slowerRaw = Math.min(mbs(dumpBytes, rawDumpS), mbs(dumpBytes, rawUploadS));
    const bulwarkMBs = mbs(big.plainBytes, big.seconds);
    const floorMBs = mbs(dumpBytes, floorB.seconds);
    const p99 = [percentile(quiet, 99), percentile(during, 99)] as const;
    const report = {
      quick,
      database: { smallMB: f1(smallSize), largeMB: f1(bigSize), dumpMB: f1(dumpBytes / 1e6) },
      backup: {
        rawPgDumpMBs: f1(mbs(dumpBytes, rawDumpS)),
        rawUploadMBs: f1(mbs(dumpBytes, rawUploadS)),
        slowerRawMBs: f1(slowerRaw),
        bulwarkBackupMBs: f1(bulwarkMBs),
        bulwarkBackupS: f1(big.seconds),
        ratioToSlowerRaw: f2(bulwarkMBs / slowerRaw),
        target: 0.8,
        // pg_dump | age | 16 MiB putObject parts, the same dump bytes.
        floorMBs: f1(floorMBs),
        floorS: f1(floorB.seconds),
        floorParts: floorB.keys.length,
        floorRatioToSlowerRaw: f2(floorMBs / slowerRaw),
        ratioToFloor: f2(bulwarkMBs / floorMBs),
      },
      restore: {
        rawPgRestoreS: f1(rawRestoreS),
        bulwarkRestoreS: f1(restoreS),
        ratio: f2(rawRestoreS / restoreS),
        bulwarkLoadS: f1(loadedS),
        loadRatio: f2(rawRestoreS / loadedS),
        checks: restored.checks.length,
        target: 0.8,
        // createdb + parts | age -d | pg_restore + raw row counts + one chain walk.
        floorS: f1(floorR.seconds),
        floorLoadS: f1(floorR.loadSeconds),
        floorChecksS: f1(floorR.seconds - floorR.loadSeconds),
        floorEntriesWalked: floorR.entries,
        floorRatio: f2(rawRestoreS / floorR.seconds),
        ratioToFloor: f2(floorR.seconds / restoreS),
      },
      peakRss: { smallMB: f1(small.hwmMb), largeMB: f1(big.hwmMb), ratio: f2(big.hwmMb / small.hwmMb) },
      auditWrite: {
        withoutBackup: { n: quiet.length, p50ms: f1(percentile(quiet, 50)), p99ms: f1(p99[0]) },
        duringBackup: { n: during.length, p50ms: f1(percentile(during, 50)), p99ms: f1(p99[1]) },
        p99Ratio: f2(p99[1] / p99[0]),
        target: 2,
        // The same writes around the backup floor (pg_dump | age | parts, at normal priority).
        floorWithoutP99ms: f1(percentile(floorQuiet, 99)),
        floorDuringP99ms: f1(percentile(floorDuring, 99)),
        floorDuringN: floorDuring.length,
        floorP99Ratio: f2(percentile(floorDuring, 99) / percentile(floorQuiet, 99)),
      },
      objects: {
        count: objects.count,
        MB: f1(objects.bytes / 1e6),
        rawCopyMBs: f1(mbs(objects.bytes, rawCopyS)),
        bulwarkMBs: f1(mbs(obj.objects?.bytes ?? 0, obj.seconds)),
        ratio: f2(rawCopyS / obj.seconds),
        peakRssMB: f1(obj.hwmMb),
      },
    };
    console.log(JSON.stringify(report, null, 2));
  }
} finally {
  for (const name of scratch) await dropDatabase(urlFor(name)).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  await h.close();
}
