/**
 * Group commit: entries submitted by concurrently running jobs are written together.
 * While one transaction runs, new entries queue up; when it ends, everything queued
 * (up to maxBatch) goes in the next one. A lone entry is written at once, so latency
 * stays low when idle and batches grow by themselves under load. With more queued than
 * one batch takes and `keyOf` given (the tenant), the tenants with the fewest queued go
 * first, each tenant's items in order: one tenant's bulk import does not hold another's
 * single entry for several transactions (docs/decisions/0010).
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
  /** The fairness key of an item (its tenant); without it, batches take the queue in order. */
  keyOf?: (item: I) => string;
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

  /** Up to maxBatch of the queue: in order, or the tenants with the fewest queued first (each one's items in order). */
  function nextBatch(): Array<Pending<I>> {
    const keyOf = options.keyOf;
    if (!keyOf || queue.length <= options.maxBatch) return queue.splice(0, options.maxBatch);
    const byKey = new Map<string, Array<Pending<I>>>();
    for (const p of queue) {
      const k = keyOf(p.item);
      const list = byKey.get(k);
      if (list) list.push(p);
      else byKey.set(k, [p]);
    }
    const taken = new Set<Pending<I>>();
    for (const list of [...byKey.values()].sort((a, b) => a.length - b.length)) {
      for (const p of list) {
        if (taken.size >= options.maxBatch) break;
        taken.add(p);
      }
    }
    const rest = queue.filter((p) => !taken.has(p));
    queue.length = 0;
    queue.push(...rest);
    return [...taken];
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
      const batch = nextBatch();
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
