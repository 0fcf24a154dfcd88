/**
 * Group commit: entries submitted by concurrently running jobs are written together.
 * While one transaction runs, new entries queue up; when it ends, everything queued
 * (up to maxBatch) goes in the next one. A lone entry is written at once, so latency
 * stays low when idle and batches grow by themselves under load.
 */
import type { CommitOutcome } from '../../lib/audit/store.js';

export interface GroupCommitter<I> {
  /** Resolves with one outcome per item once the transaction holding them commits. */
  submit(items: I[]): Promise<CommitOutcome[]>;
  /** Resolves when nothing is queued or being written. */
  drain(): Promise<void>;
  /**
   * Give up (a shutdown past its deadline): everything queued, and anything submitted
   * later, is rejected with `reason` at once; only the transaction already running is
   * left to end (the caller cancels its statement). Its jobs are retried elsewhere.
   */
  abort(reason: Error): void;
}

export interface GroupCommitOptions<I> {
  commit: (items: I[]) => Promise<CommitOutcome[]>;
  /** Most items per transaction. */
  maxBatch: number;
  /** True for errors worth retrying the whole job for (database unreachable, deadlock…). */
  isTransient: (err: unknown) => boolean;
  onBatch?: (size: number) => void;
}

interface Pending<I> {
  item: I;
  resolve: (o: CommitOutcome) => void;
  reject: (e: unknown) => void;
}

export function createGroupCommitter<I>(options: GroupCommitOptions<I>): GroupCommitter<I> {
  const queue: Array<Pending<I>> = [];
  let running: Promise<void> | undefined;
  let aborted: Error | undefined;

  async function writeBatch(batch: Array<Pending<I>>): Promise<void> {
    options.onBatch?.(batch.length);
    try {
      const outcomes = await options.commit(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(outcomes[i]!));
    } catch (err) {
      if (aborted || batch.length === 1 || options.isTransient(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad entry must not fail its neighbours: write them one by one to find it.
      for (const p of batch) await writeBatch([p]);
    }
  }

  let scheduled = false;
  function pump(): void {
    if (aborted || running || scheduled || queue.length === 0) return;
    // Wait one turn of the event loop before starting: the jobs BullMQ hands over in
    // the same burst then share this transaction instead of a lone entry taking it.
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (running || queue.length === 0) return;
      const batch = queue.splice(0, options.maxBatch);
      running = writeBatch(batch).finally(() => {
        running = undefined;
        pump();
      });
    });
  }

  return {
    submit(items) {
      if (aborted) return Promise.reject(aborted);
      const promises = items.map(
        (item) => new Promise<CommitOutcome>((resolve, reject) => queue.push({ item, resolve, reject })),
      );
      pump();
      return Promise.all(promises);
    },
    abort(reason) {
      aborted = reason;
      for (const p of queue.splice(0)) p.reject(reason);
    },
    async drain() {
      while (running || scheduled || queue.length > 0) await (running ?? new Promise((r) => setImmediate(r)));
    },
  };
}
