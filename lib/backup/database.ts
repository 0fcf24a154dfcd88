/**
 * The database stream of a backup: `pg_dump --format=custom` (compressed by pg_dump)
 * piped through age into part objects, in the snapshot whose facts the manifest
 * records (snapshot.ts). Nothing touches the disk (pg_dump writes into a named pipe);
 * memory is two parts and one read buffer.
 */
import type { BackupContext, OnProgress } from './context.js';
import { partKey } from './layout.js';
import { chunksOf, createNamedPipe } from './named-pipe.js';
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
  const pipe = await createNamedPipe().catch(async (err: unknown) => {
    await snapshot.release();
    throw err;
  });
  try {
    // Into a named pipe, read into one reused buffer (named-pipe.ts: memory stays flat).
    const dump = runTool(
      'pg_dump',
      // --no-sync: a pipe cannot be fsynced; the parts are durable once uploaded.
      ['--format=custom', '--no-sync', `--snapshot=${snapshot.id}`, `--file=${pipe.path}`],
      o.databaseUrl,
      ['ignore', 'ignore', 'pipe'],
    );
    atBackupPriority(dump.child);
    dump.child.once('close', () => void pipe.writerGone());
    try {
      const [parts, facts] = await Promise.all([
        writeParts(ctx.storage, chunksOf(pipe), {
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
    await pipe.close();
    await snapshot.release();
  }
}
