/**
 * The database stream of a backup: `pg_dump --format=custom` (compressed by pg_dump)
 * piped through age into part objects, in the snapshot whose facts the manifest
 * records (snapshot.ts). Nothing touches the disk; memory is two parts.
 */
import type { BackupContext, OnProgress } from './context.js';
import { partKey } from './layout.js';
import { atBackupPriority } from './nice.js';
import type { PartRecord } from './manifest.js';
import { writeParts } from './parts.js';
import { runTool } from './pg-tools.js';
import { openSnapshot, readFacts, type DatabaseFacts } from './snapshot.js';

export interface DatabaseDump {
  parts: PartRecord[];
  facts: DatabaseFacts;
}

export async function dumpDatabase(
  ctx: BackupContext,
  o: { backupId: string; databaseUrl: string; recipient: string; onProgress?: OnProgress },
): Promise<DatabaseDump> {
  const snapshot = await openSnapshot(o.databaseUrl);
  try {
    const dump = runTool('pg_dump', ['--format=custom', `--snapshot=${snapshot.id}`], o.databaseUrl);
    atBackupPriority(dump.child);
    try {
      const [parts, facts] = await Promise.all([
        writeParts(ctx.storage, dump.child.stdout as AsyncIterable<Buffer>, {
          stream: 'database',
          keyOf: (n) => partKey(ctx.config.env, o.backupId, 'database', n),
          recipient: o.recipient,
          partSize: ctx.config.backupPartSizeBytes,
          onProgress: o.onProgress,
        }),
        readFacts(snapshot.client),
      ]);
      // A dump that ended early (connection lost, pg_dump killed) fails here, even
      // though every byte it wrote was uploaded.
      await dump.done;
      return { parts, facts };
    } catch (err) {
      dump.child.kill('SIGKILL');
      throw err;
    }
  } finally {
    await snapshot.release();
  }
}
