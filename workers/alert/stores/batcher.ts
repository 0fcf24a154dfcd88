/**
 * Batching of small statements issued by concurrently running jobs: while `maxInFlight`
 * batches are in the database, new items queue up; when one returns, everything queued
 * (up to maxBatch) goes in the next one. A lone item goes at once (after one turn of the event
 * loop), so latency stays low when idle and batches grow by themselves under load.
 * Every item's statement starts after the item was submitted: nothing is served from
 * an earlier read.
 */

export interface BatcherOptions<I, O> {
  /** One statement for many items; resolves with one result per item, in order. */
  run: (items: I[]) => Promise<O[]>;
  maxBatch: number;
  /**
   * Batches in the database at once. More than one keeps a job from waiting for a whole
   * earlier batch (with its commit) before its own can start. Default 1.
   */
  maxInFlight?: number;
  /** Items that must not share a batch (e.g. two changes of one row, whose order matters). */
  conflicts?: (a: I, b: I) => boolean;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export function createBatcher<I, O>(options: BatcherOptions<I, O>): (item: I) => Promise<O> {
  const queue: Array<Pending<I, O>> = [];
  const running = new Set<Array<Pending<I, O>>>();
  let scheduled = false;

  async function runBatch(batch: Array<Pending<I, O>>): Promise<void> {
    try {
      const out = await options.run(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(out[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // One bad item must not fail its neighbours: each one again on its own, so each
      // job gets its own result or error (and retries as it would have alone).
      await Promise.all(batch.map((p) => runBatch([p])));
    }
  }

  function take(): Array<Pending<I, O>> {
    const batch: Array<Pending<I, O>> = [];
    const conflicts = options.conflicts;
    if (!conflicts) return queue.splice(0, options.maxBatch);
    // A conflicting item waits for the next batch; later items may still join this one,
    // unless they conflict with one that waits (they must not overtake it).
    // Items of batches still in the database count as waiting too: a change must not
    // overtake an earlier one of the same row that is being written.
    const waiting: I[] = [...running].flatMap((b) => b.map((p) => p.item));
    for (let i = 0; i < queue.length && batch.length < options.maxBatch; ) {
      const p = queue[i]!;
      if (batch.some((b) => conflicts(b.item, p.item)) || waiting.some((w) => conflicts(w, p.item))) {
        waiting.push(p.item);
        i++;
      } else batch.push(...queue.splice(i, 1));
    }
    return batch;
  }

  function pump(): void {
    if (scheduled || running.size >= (options.maxInFlight ?? 1) || queue.length === 0) return;
    scheduled = true;
    // One turn of the event loop first: the jobs that run in the same burst share it.
    setImmediate(() => {
      scheduled = false;
      const batch = take();
      if (batch.length === 0) return;
      running.add(batch);
      void runBatch(batch).finally(() => {
        running.delete(batch);
        pump();
      });
      pump();
    });
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      pump();
    });
}
