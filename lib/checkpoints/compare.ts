/**
 * The database's side of `verify --checkpoints`: does a tenant's chain still extend
 * each checkpoint it published? For a checkpoint (seq s, hash h) it does when the
 * entry at seq s still has hash h: the chain walk (lib/audit/verify.ts) has checked that
 * every entry's hash covers its content and its predecessor's hash, so the whole
 * prefix up to s is then the one that was signed. A chain rewritten and rehashed from
 * seq 1 passes the walk but not this; a chain cut back below s fails as `truncated`.
 *
 * Retention purges (audit_chain_gaps, written only by audit_purge()): an s inside a
 * purged run cannot be compared and is counted as `purged`; an s that was the last of
 * a run is compared with the gap's last_hash, which the purge kept. Either way the gap
 * must belong to a retention receipt of the tenant whose seq range covers it: a gap record
 * forged to hide a deletion needs a forged receipt too.
 *
 * Read only by primary key ranges: the entries at the checkpoints' seqs (one query
 * per tenant, through the (tenant_id, seq) index), the tenant's gaps and its head.
 */
import type { PrismaClient } from '../clients/prisma.js';
import type { CheckpointProblem } from './collect.js';
import { GENESIS, type CheckpointDocument } from './format.js';

export interface Comparison {
  /** Checkpoints whose hash the chain still has at their seq. */
  verified: number;
  /** Checkpoints inside a run of entries retention purged: accounted for, not comparable. */
  purged: number;
  problems: CheckpointProblem[];
}

interface Gap {
  first: bigint;
  last: bigint;
  lastHash: string;
  receiptId: string;
  /** The gap's receipt (running or done: it is advanced in the purge's transaction) is the tenant's and covers the gap. */
  receipted: boolean;
}

const short = (h: string) => `${h.slice(0, 16)}…`;

export async function compareWithChain(
  prisma: PrismaClient,
  tenantId: string,
  checkpoints: ReadonlyArray<{ key: string; doc: CheckpointDocument }>,
): Promise<Comparison> {
  const out: Comparison = { verified: 0, purged: 0, problems: [] };
  if (checkpoints.length === 0) return out;
  const seqs = [...new Set(checkpoints.map((c) => c.doc.seq))];
  const [heads, entries, gapRows] = await Promise.all([
    prisma.$queryRawUnsafe<Array<{ last_seq: string; last_hash: string }>>(
      'SELECT last_seq::text, last_hash FROM audit_chain_heads WHERE tenant_id = $1::uuid',
      tenantId,
    ),
    prisma.$queryRawUnsafe<Array<{ seq: string; hash: string }>>(
      'SELECT seq::text, hash FROM audit_log WHERE tenant_id = $1::uuid AND seq = ANY($2::bigint[])',
      tenantId,
      seqs,
    ),
    prisma.$queryRawUnsafe<
      Array<{ first_seq: string; last_seq: string; last_hash: string; receipt_id: string; receipted: boolean }>
    >(
      `SELECT g.first_seq::text, g.last_seq::text, g.last_hash, g.receipt_id::text,
              coalesce(r.tenant_id = g.tenant_id
                       AND r.first_seq <= g.first_seq AND r.last_seq >= g.last_seq, false) AS receipted
         FROM audit_chain_gaps g LEFT JOIN retention_receipts r ON r.id = g.receipt_id
        WHERE g.tenant_id = $1::uuid ORDER BY g.first_seq`,
      tenantId,
    ),
  ]);
  const head = heads[0];
  const hashAt = new Map(entries.map((e) => [e.seq, e.hash]));
  const gaps: Gap[] = gapRows.map((g) => ({
    first: BigInt(g.first_seq),
    last: BigInt(g.last_seq),
    lastHash: g.last_hash,
    receiptId: g.receipt_id,
    receipted: g.receipted,
  }));
  for (const { key, doc } of checkpoints) {
    const s = BigInt(doc.seq);
    const problem = (kind: 'rewritten' | 'truncated', detail: string) => out.problems.push({ kind, key, detail });
    const compare = (found: string, where: string) => {
      if (found === doc.hash) out.verified++;
      else
        problem(
          'rewritten',
          `${where} has hash ${short(found)}, the checkpoint signed ${short(doc.hash)} at ${doc.at}: the chain was rewritten since`,
        );
    };
    if (s === 0n) {
      compare(GENESIS, 'an empty chain');
      continue;
    }
    if (!head) {
      problem('truncated', `the tenant has no chain head, the checkpoint signed seq ${s} at ${doc.at}`);
      continue;
    }
    if (s > BigInt(head.last_seq)) {
      problem(
        'truncated',
        `the chain ends at seq ${head.last_seq}, before the checkpoint's seq ${s} (signed at ${doc.at}): entries were removed`,
      );
      continue;
    }
    const found = hashAt.get(doc.seq);
    if (found !== undefined) {
      compare(found, `entry seq ${s}`);
      continue;
    }
    const gap = gaps.find((g) => g.first <= s && s <= g.last);
    if (!gap) {
      problem('truncated', `entry seq ${s} is gone and no retention gap record accounts for it`);
    } else if (!gap.receipted) {
      problem(
        'truncated',
        `entry seq ${s} is gone; the gap record for seqs ${gap.first}..${gap.last} has no retention receipt of this tenant covering it (receipt ${gap.receiptId})`,
      );
    } else if (gap.last === s) {
      compare(gap.lastHash, `the retention gap record ending at seq ${s}`);
    } else {
      out.purged++;
    }
  }
  return out;
}
