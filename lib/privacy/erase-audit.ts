/**
 * Erasing the personal data of found audit entries through audit_erase_personal(),
 * in batches: each batch's signed erasure records, the deletion (format 2) or redaction
 * (format 1), and the run's counts commit in one transaction, so a run killed between
 * batches leaves nothing half-done and the next run finds only what is left.
 */
import { chainHash, type ChainEntry } from '../audit/chain.js';
import type { PrismaClient, TransactionClient } from '../clients/prisma.js';
import type { CheckpointSigner } from '../checkpoints/keys.js';
import { signErasure, type ErasureRecord } from './erasure-record.js';
import { PERSONAL_COLUMNS, type PersonalField } from './fields.js';
import type { FoundEntry } from './find.js';

/** Entries erased per transaction. */
export const ERASE_BATCH = 5000;

interface Format1Row {
  seq: string;
  tenant_id: string;
  event_id: string;
  occurred_at: Date;
  recorded_at: Date;
  actor_type: string;
  actor_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before_state: ChainEntry['before'];
  after_state: ChainEntry['after'];
  metadata: ChainEntry['metadata'];
  reason: string | null;
  confidence: string | null;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  severity: string | null;
}

/** The hash a format-1 row will have once its personal fields are NULL (its erasure record's redacted_hash). */
function redactedHash(r: Format1Row, prevHash: string, fields: readonly PersonalField[]): string {
  const entry: ChainEntry = {
    tenantId: r.tenant_id,
    seq: r.seq,
    eventId: r.event_id,
    occurredAt: new Date(r.occurred_at).toISOString(),
    recordedAt: new Date(r.recorded_at).toISOString(),
    actorType: r.actor_type,
    actorId: r.actor_id,
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    before: r.before_state,
    after: r.after_state,
    metadata: r.metadata,
    reason: r.reason,
    confidence: r.confidence,
    requestId: r.request_id,
    ip: r.ip,
    userAgent: r.user_agent,
    severity: r.severity,
    format: 1,
  };
  for (const f of fields) entry[f] = null;
  return chainHash(entry, prevHash);
}

export interface EraseAuditOptions {
  prisma: PrismaClient;
  signer: CheckpointSigner;
  tenantId: string;
  erasureId: string;
  fields: readonly PersonalField[];
  /** Called after each committed batch with its count (and in the same transaction, to update the run's counts). */
  onBatch: (tx: TransactionClient, erased: number) => Promise<void>;
  /** Clock for erased_at. Default: now. */
  now?: () => Date;
}

/** Erase `entries`; returns how many were erased (entries erased meanwhile are skipped). */
export async function eraseEntries(o: EraseAuditOptions, entries: readonly FoundEntry[]): Promise<number> {
  const columns = o.fields.map((f) => PERSONAL_COLUMNS[f]);
  let erased = 0;
  for (let i = 0; i < entries.length; i += ERASE_BATCH) {
    const batch = entries.slice(i, i + ERASE_BATCH);
    const f1 = batch.filter((e) => e.format === 1).map((e) => e.seq);
    const rows = f1.length
      ? await o.prisma.$queryRawUnsafe<Format1Row[]>(
          `SELECT seq::text, tenant_id::text, event_id, occurred_at, recorded_at, actor_type, actor_id, action,
                  resource_type, resource_id, before_state, after_state, metadata, reason,
                  confidence::text AS confidence, request_id, ip, user_agent, severity
             FROM audit_log WHERE tenant_id = $1::uuid AND seq = ANY($2::bigint[])`,
          o.tenantId,
          f1,
        )
      : [];
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    const erasedAt = (o.now?.() ?? new Date()).toISOString();
    const records: ErasureRecord[] = batch.map((e) => {
      const row = bySeq.get(e.seq);
      return signErasure(o.signer, {
        tenantId: o.tenantId,
        seq: e.seq,
        hash: e.hash,
        redactedHash: e.format === 1 && row ? redactedHash(row, e.prevHash, o.fields) : null,
        erasedAt,
      });
    });
    const payload = JSON.stringify(
      records.map((r) => ({
        seq: r.seq,
        hash: r.hash,
        redacted_hash: r.redactedHash,
        erased_at: r.erasedAt,
        key_id: r.keyId,
        signature: r.signature,
      })),
    );
    const n = await o.prisma.$transaction(async (tx) => {
      const done = await tx.$queryRawUnsafe<Array<{ seq: string }>>(
        'SELECT seq::text FROM audit_erase_personal($1::uuid, $2::uuid, $3::jsonb, $4::text[])',
        o.tenantId,
        o.erasureId,
        payload,
        columns,
      );
      await o.onBatch(tx, done.length);
      return done.length;
    });
    erased += n;
  }
  return erased;
}
