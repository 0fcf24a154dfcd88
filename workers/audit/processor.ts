/**
 * audit-write processor: parse the job again (a payload that can never succeed fails
 * as unrecoverable with its reason), redact, and hand the entries to the group
 * committer. Retries are safe: an entry whose eventId is stored is a duplicate, not a
 * second row.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { auditWriteJobSchema, type AuditWriteResult } from '../../lib/contracts/audit.js';
import { problemsFromZod } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';
import { encodeEntry, type EncodedEntry } from '../../lib/audit/encode.js';
import { prepareEntry } from '../../lib/audit/entry.js';
import type { ChainFormat } from '../../lib/audit/chain.js';
import type { Semaphore } from '../../lib/semaphore.js';
import type { GroupCommitter } from './group-commit.js';

export interface AuditWriteContext {
  committer: GroupCommitter<EncodedEntry>;
  /** Caps the entries held at once (AUDIT_ENTRIES_IN_FLIGHT); absent means no cap. */
  inFlight?: Semaphore;
  logger: Logger;
  metrics: Metrics;
  /** The canonical form new entries follow (AUDIT_CHAIN_FORMAT). Default: 2. */
  format?: ChainFormat;
}

/** How many entries a job payload says it carries, before it is validated (1 when it says nothing usable). */
export function claimedEntries(data: unknown): number {
  const entries = (data as { entries?: unknown } | null)?.entries;
  return Array.isArray(entries) ? entries.length : 1;
}

export async function processAuditWrite(
  data: unknown,
  ctx: AuditWriteContext,
  job?: Pick<Job, 'id'>,
): Promise<AuditWriteResult> {
  // Wait for room before parsing: the parsed and prepared copies are what grows.
  const release = await ctx.inFlight?.acquire(claimedEntries(data));
  try {
    return await processHeld(data, ctx, job);
  } finally {
    release?.();
  }
}

async function processHeld(data: unknown, ctx: AuditWriteContext, job?: Pick<Job, 'id'>): Promise<AuditWriteResult> {
  const parsed = auditWriteJobSchema.safeParse(data);
  if (!parsed.success) {
    const fields = problemsFromZod(parsed.error.issues).map((p) => `${p.path}: ${p.message}`);
    throw new UnrecoverableError(`invalid audit-write payload: ${fields.slice(0, 10).join('; ')}`);
  }
  const entries = parsed.data.entries.map(prepareEntry);
  const encodeOptions = { format: ctx.format ?? 2 };
  const outcomes = await ctx.committer.submit(entries.map((e) => encodeEntry(e, encodeOptions)));
  const result: AuditWriteResult = { written: 0, duplicates: 0, entries: [] };
  const unknown = new Set<string>();
  outcomes.forEach((o, i) => {
    const eventId = entries[i]!.eventId;
    if (o.status === 'unknown_tenant') unknown.add(entries[i]!.tenantId);
    else {
      result.entries.push({ eventId, seq: o.seq, duplicate: o.status === 'duplicate' });
      if (o.status === 'written') result.written++;
      else result.duplicates++;
    }
  });
  ctx.metrics.auditEntriesWritten.inc(result.written);
  if (result.duplicates > 0) {
    ctx.metrics.auditDuplicates.inc(result.duplicates);
    ctx.logger.info(
      { event: 'audit_duplicates_skipped', job_id: job?.id, count: result.duplicates },
      'entries already stored',
    );
  }
  if (unknown.size > 0) {
    // The other entries of the job are stored; these can never be (no such tenant).
    throw new UnrecoverableError(
      `unknown tenant(s): ${[...unknown].join(', ')}; ${result.written} other entries were written`,
    );
  }
  return result;
}
