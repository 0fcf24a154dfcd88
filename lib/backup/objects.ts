/** Objects backups (filled in below). */
import { NotImplementedError } from './errors.js';
import type { BackupContext, OnProgress } from './context.js';
import type { PartRecord } from './manifest.js';
import type { DatabaseFacts } from './snapshot.js';

export async function backupObjects(
  _ctx: BackupContext,
  _o: { backupId: string; databaseUrl: string; recipient: string; onProgress?: OnProgress },
): Promise<{ parts: PartRecord[]; facts: DatabaseFacts; objects: { count: number; bytes: number; prefix: string } }> {
  throw new NotImplementedError('objects backups are not implemented yet (issue 16 §2); only database backups are');
}

export async function checkObjectsIndex(_ctx: BackupContext, _m: import('./manifest.js').Manifest, _ids: readonly string[]): Promise<string> {
  return 'objects: not checked';
}
