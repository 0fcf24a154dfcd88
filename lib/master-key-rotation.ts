/**
 * Re-encrypting every secret under the current master key, in batches. Each batch is
 * one transaction (its rows and one audit entry per tenant touched), so a crash loses
 * at most the batch in flight and a re-run continues with what is left: rows already
 * under the current key are not selected again. A secret that fails to decrypt is
 * reported by name and left as it is, never skipped silently.
 *
 * Runs may overlap (two operators, a retried deploy step) and other writers may change
 * a secret meanwhile. Each row is replaced only if it still holds the token this run
 * decrypted, and a run counts and audits only the rows its UPDATE changed: overlapping
 * runs' counts add up to the secrets re-encrypted, each audited once. A row another run
 * got to first is one this run counted and did not re-encrypt, so it reports fewer
 * than it counted (the CLI then asks for a run that confirms all is done).
 */
import { recordAuditInTx } from './audit/record.js';
import type { PrismaClient } from './clients/prisma.js';
import { decryptWithKeyId, type MasterKeys } from './crypto/master-keys.js';
import { ValidationError } from './errors.js';

/**
 * Largest batch: one batch is one transaction holding every row it rewrites, so the
 * bound keeps a typo (an extra zero or three) from becoming one huge transaction.
 */
export const ROTATION_BATCH_MAX = 10_000;

export interface RotationFailure {
  tenantId: string;
  name: string;
  keyId: string;
  error: string;
}

export interface RotationReport {
  total: number;
  reencrypted: number;
  failed: RotationFailure[];
}

export async function rotateMasterKey(
  prisma: PrismaClient,
  keys: MasterKeys,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void; actor?: { type: 'user' | 'system'; id: string } } = {},
): Promise<RotationReport> {
  const batchSize = options.batchSize ?? 200;
  // A batch of 0 selected nothing and reported "0 of N, 0 failed" as if all was well.
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > ROTATION_BATCH_MAX) {
    throw new ValidationError('master key rotation', [{ path: 'batchSize', message: `must be a whole number from 1 to ${ROTATION_BATCH_MAX}` }]);
  }
  const actor = options.actor ?? { type: 'system' as const, id: 'bulwark-cli' };
  const currentId = keys.current.id;
  const total = await prisma.secret.count({ where: { keyId: { not: currentId } } });
  const report: RotationReport = { total, reencrypted: 0, failed: [] };
  let cursor: string | undefined;
  // Rows this run has dealt with (re-encrypted, failed, or found changed by another).
  let handled = 0;
  options.onProgress?.(0, total);
  for (;;) {
    const rows = await prisma.secret.findMany({
      where: { keyId: { not: currentId }, ...(cursor ? { id: { gt: cursor } } : {}) },
      orderBy: { id: 'asc' },
      take: batchSize,
    });
    if (rows.length === 0) break;
    cursor = rows[rows.length - 1]!.id;
    const updates: Array<{ id: string; tenantId: string; name: string; token: string; from: string; was: string }> = [];
    for (const row of rows) {
      try {
        const plain = decryptWithKeyId(keys, row.encryptedValue, row.keyId);
        updates.push({ id: row.id, tenantId: row.tenantId, name: row.name, token: keys.current.fernet.encrypt(plain), from: row.keyId, was: row.encryptedValue });
      } catch (err) {
        report.failed.push({ tenantId: row.tenantId, name: row.name, keyId: row.keyId, error: (err as Error).message });
      }
    }
    const changed = await prisma.$transaction(async (tx) => {
      const mine: typeof updates = [];
      for (const u of updates) {
        // A row another transaction holds is waited for, then judged as it is after its
        // commit: a run that re-encrypted it first (new key id), or a writer that
        // replaced its value (new token), wins, and the row is not ours to count.
        const { count } = await tx.secret.updateMany({ where: { id: u.id, keyId: u.from, encryptedValue: u.was }, data: { encryptedValue: u.token, keyId: currentId } });
        if (count === 1) mine.push(u);
      }
      const byTenant = new Map<string, typeof updates>();
      for (const u of mine) byTenant.set(u.tenantId, [...(byTenant.get(u.tenantId) ?? []), u]);
      // In tenant id order, the order the audit store locks chain heads in: two runs'
      // batches spanning the same tenants then cannot deadlock on them.
      for (const tenantId of [...byTenant.keys()].sort()) {
        const list = byTenant.get(tenantId)!;
        await recordAuditInTx(tx, {
          tenantId,
          actorType: actor.type,
          actorId: actor.id,
          action: 'secret:master-key-rotated',
          resourceType: 'secret',
          metadata: { names: list.map((u) => u.name), from_key_ids: [...new Set(list.map((u) => u.from))], to_key_id: currentId },
        });
      }
      return mine.length;
    });
    report.reencrypted += changed;
    handled += rows.length;
    options.onProgress?.(handled, total);
  }
  return report;
}
