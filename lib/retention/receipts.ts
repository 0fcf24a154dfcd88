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
import { foldDigest } from './digest.js';
import type { ClassPolicy } from './policy.js';

export type { RetentionReceipt } from '../../generated/prisma/client.js';

export const RETENTION_ACTOR = { type: 'system' as const, id: 'retention' };

/** The tenant's running receipt for the class, else a new one for this policy. */
export async function openReceipt(
  prisma: PrismaClient,
  tenantId: string,
  runId: string,
  policy: ClassPolicy,
  holdIds: string[],
): Promise<{ receipt: RetentionReceipt; resumed: boolean }> {
  const running = await prisma.retentionReceipt.findFirst({
    where: { tenantId, class: policy.class, status: 'running' },
  });
  if (running) return { receipt: running, resumed: true };
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
    // Another worker opened it between our read and our write (the unique partial index).
    if ((err as { code?: string }).code !== 'P2002') throw err;
    return {
      receipt: await prisma.retentionReceipt.findFirstOrThrow({
        where: { tenantId, class: policy.class, status: 'running' },
      }),
      resumed: true,
    };
  }
}

export interface BatchDone {
  ids: string[];
  times: Date[];
  seqs?: bigint[];
  bytes?: number;
}

/** Account for a batch inside the transaction that deleted it. */
export async function advanceReceipt(tx: TransactionClient, receiptId: string, batch: BatchDone): Promise<void> {
  if (batch.ids.length === 0) return;
  const r = await tx.retentionReceipt.findUniqueOrThrow({ where: { id: receiptId } });
  const times = batch.times.map((t) => t.getTime());
  const seqs = batch.seqs ?? [];
  let firstSeq = r.firstSeq;
  let lastSeq = r.lastSeq;
  for (const s of seqs) {
    if (firstSeq === null || s < firstSeq) firstSeq = s;
    if (lastSeq === null || s > lastSeq) lastSeq = s;
  }
  await tx.retentionReceipt.update({
    where: { id: receiptId },
    data: {
      deleted: r.deleted + BigInt(batch.ids.length),
      bytes: r.bytes + BigInt(batch.bytes ?? 0),
      digest: foldDigest(r.digest, batch.ids),
      firstSeq,
      lastSeq,
      oldest: new Date(Math.min(r.oldest?.getTime() ?? Infinity, ...times)),
      newest: new Date(Math.max(r.newest?.getTime() ?? -Infinity, ...times)),
      pending: Prisma.DbNull,
      updatedAt: new Date(),
    },
  });
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
