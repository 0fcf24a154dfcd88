/**
 * bench:backup's backup process: one backup of the kind in argv[2], taken as a worker
 * takes it (createBackup with the process's own clients), in a process of its own so
 * its peak RSS (VmHWM, printed at the end with the result) is the backup's alone.
 * pg_dump and age run as its child processes and are not counted.
 */
import { readFileSync } from 'node:fs';
import { createBackup } from '../lib/backup/create.js';
import { createRedis } from '../lib/clients/redis.js';
import { createStorage } from '../lib/clients/storage.js';
import { loadConfig } from '../lib/config.js';
import { BACKUP_KINDS, type BackupKind } from '../lib/contracts/backup.js';
import { createLogger } from '../lib/logger.js';

const kind = process.argv[2] as BackupKind;
if (!BACKUP_KINDS.includes(kind)) throw new Error(`kind must be one of ${BACKUP_KINDS.join(', ')}`);
const config = loadConfig(process.env);
const redis = createRedis(config, 'bench-backup-child');
// BENCH_MEM_TRACE=1: the peak of each of process.memoryUsage()'s figures, sampled every
// 100 ms, goes with the result (where the RSS is: V8's heap, or buffers outside it).
const memPeak: Record<string, number> = {};
const memTimer =
  process.env.BENCH_MEM_TRACE === '1'
    ? setInterval(() => {
        for (const [k, v] of Object.entries(process.memoryUsage())) memPeak[k] = Math.max(memPeak[k] ?? 0, v / 2 ** 20);
        // Anonymous memory (heap, malloc) against file-backed pages (code) and shared memory.
        const status = readFileSync('/proc/self/status', 'utf8');
        for (const f of ['RssAnon', 'RssFile', 'RssShmem']) {
          const kb = Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
          memPeak[f] = Math.max(memPeak[f] ?? 0, kb / 1024);
        }
      }, 100)
    : undefined;
const started = performance.now();
const m = await createBackup(
  { config, storage: createStorage(config.storage), redis, logger: createLogger({ ...config, logLevel: 'warn' }) },
  { kind },
);
const seconds = (performance.now() - started) / 1000;
redis.disconnect();
if (memTimer) clearInterval(memTimer);
const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
process.stdout.write(
  `${JSON.stringify({
    id: m.id,
    seconds,
    plainBytes: m.parts.reduce((n, p) => n + p.plainSize, 0),
    objects: m.objects,
    hwmMb: Number(hwm?.[1] ?? 0) / 1024,
    ...(memTimer ? { memPeakMb: memPeak } : {}),
  })}\n`,
);
