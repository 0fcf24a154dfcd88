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
 * than it counted (the CLI then asks for a run that confirms it all is done).
 */
import type { PrismaClient } from '../clients/prisma.js';
import { decryptWithKeyId, type MasterKeys } from '../crypto/master-keys.js';
import { ValidationError } from '../errors.js';
import { ROTATION_BATCH_MAX } from '../limits.js';
import { RotationBatchError, writeBatch, type BatchUpdate } from './rotation-batch.js';

export { RotationBatchError } from './rotation-batch.js';

// Largest batch: in lib/limits.ts, which the CLI's --batch-size and usage read too.
export { ROTATION_BATCH_MAX };

/** Longest any statement of a batch may run, waiting for a row lock included. */
export const ROTATION_STATEMENT_TIMEOUT_MS = 30_000;

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

export interface RotationOptions {
  /** Secrets read, re-encrypted and written per transaction, 1 to ROTATION_BATCH_MAX. Default: 200. */
  batchSize?: number;
  /**
   * Limit of each statement of a batch's transaction, in ms; the transaction itself
   * may take four times as long (see writeBatch). Default: ROTATION_STATEMENT_TIMEOUT_MS (30 000).
   */
  statementTimeoutMs?: number;
  onProgress?: (done: number, total: number) => void;
  /** Who the audit entries name. Default: system `bulwark-cli`. */
  actor?: { type: 'user' | 'system'; id: string };
}

/**
 * Re-encrypt every secret not under `keys.current`. A batch that cannot be written
 * throws RotationBatchError, naming the batch and carrying the report so far: the
 * batches before it stay committed, the failed one is rolled back whole.
 */
export async function rotateMasterKey(prisma: PrismaClient, keys: MasterKeys, options: RotationOptions = {}): Promise<RotationReport> {
  const batchSize = options.batchSize ?? 200;
  const statementTimeoutMs = options.statementTimeoutMs ?? ROTATION_STATEMENT_TIMEOUT_MS;
  // A batch of 0 selected nothing and reported "0 of N, 0 failed" as if all was well.
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > ROTATION_BATCH_MAX) {
    throw new ValidationError('master key rotation', [{ path: 'batchSize', message: `must be a whole number from 1 to ${ROTATION_BATCH_MAX}` }]);
  }
  if (!Number.isSafeInteger(statementTimeoutMs) || statementTimeoutMs < 1) {
    throw new ValidationError('master key rotation', [{ path: 'statementTimeoutMs', message: 'must be a positive whole number of milliseconds' }]);
  }
  const actor = options.actor ?? { type: 'system' as const, id: 'bulwark-cli' };
  const currentId = keys.current.id;
  const total = await prisma.secret.count({ where: { keyId: { not: currentId } } });
  const report: RotationReport = { total, reencrypted: 0, failed: [] };
  let cursor: string | undefined;
  // Rows this run has dealt with (re-encrypted, failed, or found changed by another).
  let handled = 0;
  let batch = 0;
  options.onProgress?.(0, total);
  for (;;) {
    const rows = await prisma.secret.findMany({
      where: { keyId: { not: currentId }, ...(cursor ? { id: { gt: cursor } } : {}) },
      orderBy: { id: 'asc' },
      take: batchSize,
    });
    if (rows.length === 0) break;
    batch += 1;
    cursor = rows[rows.length - 1]!.id;
    const updates: BatchUpdate[] = [];
    for (const row of rows) {
      try {
        const plain = decryptWithKeyId(keys, row.encryptedValue, row.keyId);
        updates.push({ id: row.id, tenantId: row.tenantId, name: row.name, token: keys.current.fernet.encrypt(plain), from: row.keyId, was: row.encryptedValue });
      } catch (err) {
        report.failed.push({ tenantId: row.tenantId, name: row.name, keyId: row.keyId, error: (err as Error).message });
      }
    }
    // Names only: the error carrying this must not carry the rows' tokens.
    const ref = (r: (typeof rows)[number]) => ({ tenantId: r.tenantId, name: r.name });
    const where = { number: batch, size: rows.length, from: handled + 1, first: ref(rows[0]!), last: ref(rows[rows.length - 1]!) };
    const changed = await writeBatch(prisma, updates, { currentId, actor, statementTimeoutMs }).catch((err: unknown) => {
      throw new RotationBatchError(where, statementTimeoutMs, err, { ...report, failed: [...report.failed] });
    });
    report.reencrypted += changed;
    handled += rows.length;
    options.onProgress?.(handled, total);
  }
  return report;
}
