/** Tenant backups (filled in below). */
import { NotImplementedError } from './errors.js';
import type { BackupContext, OnProgress } from './context.js';
import type { PartRecord } from './manifest.js';
import type { DatabaseFacts } from './snapshot.js';

export async function backupTenant(
  _ctx: BackupContext,
  _o: { backupId: string; databaseUrl: string; recipient: string; tenantId: string; onProgress?: OnProgress },
): Promise<{ parts: PartRecord[]; facts: DatabaseFacts }> {
  throw new NotImplementedError('tenant backups are not implemented yet (issue 16 §2); only database backups are');
}
