/**
 * Group commit: entries submitted by concurrently running jobs are written together.
 * While one transaction runs, new entries queue up; when it ends, everything queued
 * (up to maxBatch) goes in the next one. A lone entry is written at once, so latency
 * stays low when idle and batches grow by themselves under load. With more queued than
 * one batch takes and `keyOf` given (the tenant), the tenants with the fewest queued go
 * first, each tenant's items in order: one tenant's bulk import does not hold another's
 * single entry for several transactions (docs/decisions/0010). With `lanes` above 1, a
 * transaction may start while others run, for keys that no running one holds: a tenant's
 * single entry is then written beside another's 2,000-entry transaction, not after it,
 * and each key's items still go one transaction at a time, in order.
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
  /**
   * Most transactions at once; above 1 needs `keyOf`, and no two running transactions
   * hold items of one key (a tenant's chain is written in order). Default: 1.
   */
  lanes?: number;
}

interface Pending<I> {
  item: I;
  resolve: (o: CommitOutcome) => void;
  reject: (e: unknown) => void;
}

export function createGroupCommitter<I>(options: GroupCommitOptions<I>): GroupCommitter<I> {
  const lanes = options.lanes ?? 1;
  if (!Number.isInteger(lanes) || lanes < 1) throw new RangeError(`lanes must be a whole number >= 1 (got ${lanes})`);
  if (lanes > 1 && !options.keyOf)
    throw new RangeError('lanes above 1 need keyOf: items of one key must stay in order');
  const queue: Array<Pending<I>> = [];
  const running = new Set<Promise<void>>();
  // Keys held by a running transaction: their next items wait for it.
  const busy = new Set<string>();
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

  /**
   * Up to maxBatch of the queue's items whose key no running transaction holds: in
   * order, or the keys with the fewest queued first (each one's items in order). With
   * two lanes or more free, a key with more queued than all others is left for the next.
   */
  function nextBatch(lanesFree: number): Array<Pending<I>> {
    const keyOf = options.keyOf;
    if (!keyOf) return queue.splice(0, options.maxBatch);
    // The queued items of every key no running transaction holds, each key's in order.
    const byKey = new Map<string, Array<Pending<I>>>();
    let free = 0;
    for (const p of queue) {
      const k = keyOf(p.item);
      if (busy.has(k)) continue;
      const list = byKey.get(k);
      if (list) list.push(p);
      else byKey.set(k, [p]);
      free++;
    }
    if (lanesFree >= 2 && byKey.size >= 2) {
      // Two lanes free and one key with more queued than all others together: it goes
      // in a transaction of its own beside theirs, so their few do not wait for its many.
      const [largest, items] = [...byKey].reduce((x, y) => (y[1].length > x[1].length ? y : x));
      if (items.length > free - items.length) {
        byKey.delete(largest);
        free -= items.length;
      }
    }
    let batch: Array<Pending<I>>;
    if (free <= options.maxBatch) batch = queue.filter((p) => byKey.has(keyOf(p.item)));
    else {
      // More than one transaction takes: the keys with the fewest queued first.
      batch = [];
      for (const list of [...byKey.values()].sort((x, y) => x.length - y.length)) {
        batch.push(...list.slice(0, options.maxBatch - batch.length));
        if (batch.length >= options.maxBatch) break;
      }
    }
    if (batch.length === 0) return [];
    const taken = new Set(batch);
    const rest = queue.filter((p) => !taken.has(p));
    queue.length = 0;
    queue.push(...rest);
    return batch;
  }

  let scheduled = false;
  function pump(): void {
    if (aborted || scheduled || queue.length === 0 || running.size >= lanes) return;
    // Wait one turn of the event loop before starting: the jobs BullMQ hands over in
    // the same burst then share this transaction instead of a lone entry taking it.
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      while (!aborted && running.size < lanes && queue.length > 0) {
        const batch = nextBatch(lanes - running.size);
        if (batch.length === 0) break;
        const keyOf = options.keyOf;
        const keys = lanes > 1 && keyOf ? new Set(batch.map((p) => keyOf(p.item))) : new Set<string>();
        for (const k of keys) busy.add(k);
        const run: Promise<void> = writeBatch(batch).finally(() => {
          running.delete(run);
          for (const k of keys) busy.delete(k);
          pump();
        });
        running.add(run);
      }
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
      while (running.size > 0 || scheduled || queue.length > 0) {
        await (running.size > 0 ? Promise.race(running) : new Promise((r) => setImmediate(r)));
      }
    },
  };
}
