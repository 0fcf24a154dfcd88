/**
 * A database backup in a child process, for the SIGKILL test: prints `id <backupId>`
 * when the id is chosen and `part <n>` after each uploaded part (parts of 32 KiB, and
 * each upload slowed a little so the parent can kill it in the middle).
 */
import { createBackup } from '../../lib/backup/create.js';
import { createRedis } from '../../lib/clients/redis.js';
import { createStorage } from '../../lib/clients/storage.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';

const base = loadConfig(process.env);
const config = { ...base, backupPartSizeBytes: 32 * 1024 };
const redis = createRedis(config, 'backup-child');
let parts = 0;
await createBackup(
  { config, storage: createStorage(config.storage), redis, logger: createLogger({ ...config, logLevel: 'silent' }) },
  {
    kind: 'database',
    onId: (id) => void process.stdout.write(`id ${id}\n`),
    onProgress: (e) => {
      if (e.part) process.stdout.write(`part ${++parts}\n`);
    },
  },
);
process.stdout.write('done\n');
redis.disconnect();
