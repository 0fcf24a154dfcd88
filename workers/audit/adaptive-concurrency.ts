/**
 * How many audit-write jobs a process should hold at once. BullMQ fetches up to its
 * concurrency in jobs, whatever their size, and each fetched job sits in memory until
 * it ends. Single-entry jobs need the full concurrency (group commit batches across
 * them); jobs of 100 or 1,000 entries need far fewer to keep AUDIT_ENTRIES_IN_FLIGHT
 * busy, and 200 of them would hold up to 200,000 entries. So the concurrency follows
 * the recent job size: enough jobs to fill the in-flight cap one and a half times.
 */

/** The concurrency for jobs of `entriesPerJob` entries on average. */
export function concurrencyFor(entriesPerJob: number, entriesInFlight: number, maxConcurrency: number): number {
  if (!(entriesPerJob > 0)) return maxConcurrency;
  const wanted = Math.ceil((entriesInFlight * 1.5) / entriesPerJob);
  // At least 2 (one job committing while the next is parsed), never above the maximum.
  return Math.min(maxConcurrency, Math.max(2, wanted));
}

export interface ConcurrencyTracker {
  /** Record a job's entry count; returns the concurrency to use from now on. */
  observe(entries: number): number;
}

/**
 * @param smoothing weight of the newest job in the moving average (default 0.1: a
 *   burst of large jobs lowers the concurrency within some tens of jobs)
 */
export function createConcurrencyTracker(
  entriesInFlight: number,
  maxConcurrency: number,
  smoothing = 0.1,
): ConcurrencyTracker {
  let average: number | undefined;
  return {
    observe(entries) {
      const n = Math.max(1, entries);
      average = average === undefined ? n : average + smoothing * (n - average);
      return concurrencyFor(average, entriesInFlight, maxConcurrency);
    },
  };
}
