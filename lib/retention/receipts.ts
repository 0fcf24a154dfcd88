/**
 * Receipts: one per tenant, class and real run. A receipt is opened `running` before
 * the first deletion and advanced in the same transaction as each batch it accounts
 * for, so after a crash it says exactly what was deleted; the next run resumes it under
 * the same cutoff instead of opening a second one. Finishing it writes the
 * `retention:purged` audit entry, in the same transaction.
 */
import { actorFields, recordAuditInTx } from '../audit/record.js';
import type { PrismaClient, TransactionClient } from '../clients/prisma.js';
import { Prisma, type RetentionReceipt } from '../../generated/prisma/client.js';
import { foldDigestYielding } from './digest.js';
import type { ClassPolicy } from './policy.js';

export type { RetentionReceipt } from '../../generated/prisma/client.js';

export const RETENTION_ACTOR = { type: 'system' as const, id: 'retention' };

/**
 * A new receipt for this policy, or, when the tenant's receipt for the class is still
 * running (the unique partial index refuses a second), that one: the common case costs
 * one statement.
 */
export async function openReceipt(
  prisma: PrismaClient,
  tenantId: string,
  runId: string,
  policy: ClassPolicy,
  holdIds: string[],
): Promise<{ receipt: RetentionReceipt; resumed: boolean }> {
  try {
    const receipt = await prisma.retentionReceipt.create({
      data: {
        runId,
        tenantId,
        class: policy.class,
        status: 'running',
        ttlDays: policy.ttlDays,
        cutoff: policy.cutoff,
        policy: { setting: policy.setting, ttlDays: policy.ttlDays },
        holds: holdIds,
      },
    });
    return { receipt, resumed: false };
  } catch (err) {
    if ((err as { code?: string }).code !== 'P2002') throw err;
    const running = await prisma.retentionReceipt.findFirst({
      where: { tenantId, class: policy.class, status: 'running' },
    });
    // Finished between the refusal and this read: open a new one after all.
    if (!running) return openReceipt(prisma, tenantId, runId, policy, holdIds);
    return { receipt: running, resumed: true };
  }
}

export interface BatchDone {
  ids: string[];
  /** Times of the rows (or only the oldest and newest: the receipt keeps those). */
  times: Date[];
  /** Seqs of the audit rows (or only the first and last). */
  seqs?: bigint[];
  bytes?: number;
}

/**
 * Account for a batch (inside the transaction that deleted it, for rows), in one
 * statement. `digest` is the receipt's digest before the batch, as the caller last
 * saw it; the update applies only while the receipt still holds it, so two runs
 * advancing one receipt cannot both count: the second fails (its batch rolls back).
 * Returns the new digest.
 */
export async function advanceReceipt(
  db: TransactionClient | PrismaClient,
  receiptId: string,
  batch: BatchDone,
  digest: string,
): Promise<string> {
  if (batch.ids.length === 0) return digest;
  const times = batch.times.map((t) => t.getTime());
  const seqs = batch.seqs ?? [];
  const next = await foldDigestYielding(digest, batch.ids);
  const min = (xs: bigint[]) => xs.reduce((a, b) => (b < a ? b : a));
  const max = (xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a));
  const n = await db.$executeRawUnsafe(
    `UPDATE retention_receipts SET deleted = deleted + $2, bytes = bytes + $3, digest = $4,
            first_seq = least(first_seq, $5::bigint), last_seq = greatest(last_seq, $6::bigint),
            oldest = least(oldest, $7::timestamptz), newest = greatest(newest, $8::timestamptz),
            pending = NULL, updated_at = now()
      WHERE id = $1::uuid AND digest = $9 AND status = 'running'`,
    receiptId,
    BigInt(batch.ids.length),
    BigInt(batch.bytes ?? 0),
    next,
    seqs.length ? min(seqs) : null,
    seqs.length ? max(seqs) : null,
    new Date(Math.min(...times)),
    new Date(Math.max(...times)),
    digest,
  );
  if (n !== 1)
    throw new Error(
      `retention receipt ${receiptId} was advanced or closed by another run meanwhile; this batch is not counted`,
    );
  return next;
}

export interface HoldCount {
  id: string;
  kept: number;
}

/** Close the receipt and record it in the tenant's audit log (when it deleted or kept anything). */
export async function finishReceipt(
  prisma: PrismaClient,
  receiptId: string,
  held: { total: number; holds: HoldCount[] },
  complete: boolean,
): Promise<RetentionReceipt> {
  return prisma.$transaction(async (tx) => {
    const r = await tx.retentionReceipt.update({
      where: { id: receiptId },
      data: {
        status: 'done',
        finishedAt: new Date(),
        held: BigInt(held.total),
        holds: held.holds as unknown as object,
        pending: Prisma.DbNull,
        error: null,
        updatedAt: new Date(),
      },
    });
    if (r.deleted > 0n || held.total > 0) {
      await recordAuditInTx(tx, {
        tenantId: r.tenantId,
        ...actorFields(RETENTION_ACTOR),
        action: 'retention:purged',
        resourceType: 'retention_receipt',
        resourceId: r.id,
        metadata: receiptSummary(r, complete) as Record<string, never>,
      });
    }
    return r;
  });
}

/** The receipt as the audit entry, the CLI's --json and the API show it. */
export function receiptSummary(
  r: RetentionReceipt,
  complete?: boolean,
): Record<string, string | number | boolean | null | object> {
  return {
    receiptId: r.id,
    runId: r.runId,
    class: r.class,
    status: r.status,
    policy: r.policy as object,
    ttlDays: r.ttlDays,
    cutoff: r.cutoff.toISOString(),
    deleted: Number(r.deleted),
    bytes: Number(r.bytes),
    firstSeq: r.firstSeq === null ? null : String(r.firstSeq),
    lastSeq: r.lastSeq === null ? null : String(r.lastSeq),
    oldest: r.oldest?.toISOString() ?? null,
    newest: r.newest?.toISOString() ?? null,
    digest: r.digest,
    held: Number(r.held),
    holds: r.holds as object,
    error: r.error,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
    ...(complete === undefined ? {} : { complete }),
  };
}

export function listReceipts(
  prisma: PrismaClient,
  options: { tenantId?: string; limit?: number } = {},
): Promise<RetentionReceipt[]> {
  return prisma.retentionReceipt.findMany({
    where: options.tenantId ? { tenantId: options.tenantId } : {},
    orderBy: [{ startedAt: 'desc' }, { class: 'asc' }],
    take: options.limit ?? 100,
  });
}
