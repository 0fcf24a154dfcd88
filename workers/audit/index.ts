/** Wires the audit-write processor into a BullMQ Worker with a group committer. */
import type { Job, Worker } from 'bullmq';
import { AUDIT_MAX_ENTRIES_PER_JOB, AUDIT_WRITE_QUEUE, auditWritePolicy, type AuditWriteResult } from '../../lib/contracts/audit.js';
import type { AppContext } from '../../lib/context.js';
import { isTransientDbError } from '../../lib/db/errors.js';
import { createQueueWorker } from '../../app/runtime/queue-worker.js';
import type { EncodedEntry } from '../../lib/audit/encode.js';
import { createSemaphore } from '../../lib/semaphore.js';
import { concurrencyFor, createConcurrencyTracker } from './adaptive-concurrency.js';
import { createGroupCommitter, type GroupCommitter } from './group-commit.js';
import { claimedEntries, processAuditWrite } from './processor.js';
import { commitEntries } from '../../lib/audit/store.js';

export function createAuditCommitter(ctx: AppContext): GroupCommitter<EncodedEntry> {
  return createGroupCommitter<EncodedEntry>({
    commit: (entries) => commitEntries(ctx.pg, entries, ctx.clock),
    maxBatch: ctx.config.auditBatchMax,
    isTransient: isTransientDbError,
    onBatch: (size) => ctx.metrics.auditBatchSize.observe(size),
  });
}

export function createAuditWriteWorker(ctx: AppContext): { worker: Worker<unknown, AuditWriteResult>; committer: GroupCommitter<EncodedEntry> } {
  const committer = createAuditCommitter(ctx);
  const inFlight = createSemaphore(ctx.config.auditEntriesInFlight);
  const logger = ctx.logger.child({ queue: AUDIT_WRITE_QUEUE });
  const maxConcurrency = ctx.config.auditWriteConcurrency ?? auditWritePolicy.concurrency;
  const sizes = createConcurrencyTracker(ctx.config.auditEntriesInFlight, maxConcurrency);
  const worker: Worker<unknown, AuditWriteResult> = createQueueWorker<unknown, AuditWriteResult>(ctx, {
    queue: AUDIT_WRITE_QUEUE,
    policy: auditWritePolicy,
    // Until a job has been seen, assume jobs of the largest size: BullMQ fetches up to
    // the concurrency at once, and a start at 200 into a backlog of 1,000-entry jobs
    // would hold 200,000 entries before the first one tells their size.
    concurrency: concurrencyFor(AUDIT_MAX_ENTRIES_PER_JOB, ctx.config.auditEntriesInFlight, maxConcurrency),
    processor: (job: Job<unknown, AuditWriteResult>) => {
      const next = sizes.observe(claimedEntries(job.data));
      if (next !== worker.concurrency) worker.concurrency = next;
      return processAuditWrite(job.data, { committer, inFlight, logger, metrics: ctx.metrics }, job);
    },
  });
  return { worker, committer };
}
