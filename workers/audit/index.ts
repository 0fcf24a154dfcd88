/**
 * The audit worker's side of the registry (workers/registry.ts): audit-write jobs go
 * through a group committer, with a concurrency that follows the size of the jobs seen
 * (adaptive-concurrency.ts); audit-verify walks the chains (verify-worker.ts) and then
 * has their heads signed into checkpoints in the object store (checkpoint-worker.ts).
 */
import type { Job } from 'bullmq';
import {
  AUDIT_MAX_ENTRIES_PER_JOB,
  AUDIT_WRITE_QUEUE,
  auditWritePolicy,
  type AuditVerifyJob,
} from '../../lib/contracts/audit.js';
import type { AppContext } from '../../lib/context.js';
import { isTransientDbError } from '../../lib/db/errors.js';
import type { EncodedEntry } from '../../lib/audit/encode.js';
import { createSemaphore } from '../../lib/semaphore.js';
import type { JobHandler, WorkerScope } from '../registration.js';
import { concurrencyFor, createConcurrencyTracker } from './adaptive-concurrency.js';
import { createGroupCommitter, type GroupCommitter } from './group-commit.js';
import { claimedEntries, processAuditWrite } from './processor.js';
import { runAuditVerify } from './verify-worker.js';
import { checkpointHandler, checkpointStep } from './checkpoint-worker.js';
import { commitEntries } from '../../lib/audit/store.js';

export function createAuditCommitter(ctx: AppContext): GroupCommitter<EncodedEntry> {
  return createGroupCommitter<EncodedEntry>({
    commit: (entries) => commitEntries(ctx.pg, entries, ctx.clock),
    maxBatch: ctx.config.auditBatchMax,
    lanes: ctx.config.auditCommitLanes,
    isTransient: isTransientDbError,
    onBatch: (size) => ctx.metrics.auditBatchSize.observe(size),
    keyOf: (encoded) => encoded.entry.tenantId,
  });
}

/** The process's audit-write parts (one per process: scope.shared). */
function auditWriteDeps({ ctx }: WorkerScope) {
  const maxConcurrency = ctx.config.auditWriteConcurrency ?? auditWritePolicy.concurrency;
  return {
    committer: createAuditCommitter(ctx),
    // A job of up to 10 entries may pass prefetched large ones (bounded), and has a
    // quarter of the cap above it for itself while they fill it: fair dispatch.
    inFlight: createSemaphore(ctx.config.auditEntriesInFlight, {
      smallBypass: 10,
      smallReserve: Math.floor(ctx.config.auditEntriesInFlight / 4),
    }),
    logger: ctx.logger.child({ queue: AUDIT_WRITE_QUEUE }),
    metrics: ctx.metrics,
    format: ctx.config.auditChainFormat,
    maxConcurrency,
    sizes: createConcurrencyTracker(ctx.config.auditEntriesInFlight, maxConcurrency),
  };
}

export const auditHandlers = {
  write: {
    processor: (scope) => {
      const deps = scope.shared(auditWriteDeps);
      return (data, job: Job, _token, worker) => {
        const next = deps.sizes.observe(claimedEntries(data));
        if (next !== worker.concurrency) worker.concurrency = next;
        return processAuditWrite(data, deps, job);
      };
    },
    // Waits for room for the job's entries before parsing them: the parsed and prepared copies are what grows.
    parsesItself: true,
    // Until a job has been seen, assume jobs of the largest size: BullMQ fetches up to
    // the concurrency at once, and a start at 200 into a backlog of 1,000-entry jobs
    // would hold 200,000 entries before the first one tells their size.
    concurrency: (scope) =>
      concurrencyFor(
        AUDIT_MAX_ENTRIES_PER_JOB,
        scope.ctx.config.auditEntriesInFlight,
        scope.shared(auditWriteDeps).maxConcurrency,
      ),
    drain: (scope) => scope.shared(auditWriteDeps).committer.drain(),
    // An abandoned audit job may wait on a lock (a commit behind a chain head): nothing
    // queued is started any more (the composition root then cancels the running statement).
    abort: (scope) => scope.shared(auditWriteDeps).committer.abort(new Error('shutting down')),
  } satisfies JobHandler<unknown>,
  verify: {
    processor: (scope) => {
      const checkpoints = checkpointStep(scope);
      return (data, job) => runAuditVerify(data, scope.ctx, job, checkpoints);
    },
  } satisfies JobHandler<AuditVerifyJob>,
  checkpoint: checkpointHandler,
};
