/**
 * Writing checkpoints: the chain heads a verification read (before it walked the
 * chains, so every entry up to each head was walked) are signed and written, one
 * object per tenant and hour, each at most once. A run that fails half-way (the store
 * went away) is simply run again: what was written is found and left alone.
 */
import type pg from 'pg';
import type { PrismaClient } from '../clients/prisma.js';
import type { Storage } from '../clients/storage.js';
import { checkpointKey, encodeCheckpoint, hourOf, type ChainHead } from './format.js';
import type { CheckpointSigner } from './keys.js';
import { eachInParallel } from './parallel.js';
import { putCheckpointOnce, type PutResult } from './store.js';

/** The chain heads of every tenant (or one), in tenant order: what a checkpoint signs. */
export async function readChainHeads(prisma: PrismaClient, tenantId?: string): Promise<ChainHead[]> {
  const rows = await prisma.$queryRawUnsafe<Array<{ tenant_id: string; last_seq: string; last_hash: string }>>(
    `SELECT tenant_id::text, last_seq::text, last_hash FROM audit_chain_heads
      ${tenantId ? 'WHERE tenant_id = $1::uuid' : ''} ORDER BY tenant_id`,
    ...(tenantId ? [tenantId] : []),
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, seq: r.last_seq, hash: r.last_hash }));
}

export interface CheckpointBatch {
  /** When the heads were read (ISO 8601, ms, UTC); the checkpoints' hour is this time's. */
  at: string;
  heads: ChainHead[];
}

export interface WriteDeps {
  storage: Storage;
  pool: pg.Pool;
  signer: CheckpointSigner;
}

export interface WriteResult {
  hour: string;
  written: number;
  /** Already there (an earlier attempt or run this hour): left as it was. */
  exists: number;
}

/** How many checkpoints are written at once (each is a HEAD and a PUT). */
const PARALLEL = 4;

/**
 * Sign and write one checkpoint per head. Throws the first store failure (the rest of
 * the batch stops; a retry finds what was written).
 */
export async function writeCheckpoints(
  deps: WriteDeps,
  batch: CheckpointBatch,
  /** Told of each key as it is settled: written (with the bytes written) or found there. */
  onPut?: (key: string, result: PutResult, body: Buffer) => void,
): Promise<WriteResult> {
  const hour = hourOf(new Date(batch.at));
  const result: WriteResult = { hour, written: 0, exists: 0 };
  await eachInParallel(batch.heads, PARALLEL, async (head) => {
    const body = encodeCheckpoint({ ...head, hour, at: batch.at }, deps.signer);
    const key = checkpointKey(head.tenantId, hour);
    const put = await putCheckpointOnce(deps.storage, deps.pool, key, body);
    result[put]++;
    onPut?.(key, put, body);
  });
  return result;
}
