/**
 * Process-wide garbage-collector setting for a long-running Bulwark process (`bulwark
 * start`). Not done by startBulwark(): a V8 flag belongs to the process, and a program
 * embedding Bulwark (or a test) keeps its own.
 *
 * Why: the audit worker keeps about 40 MB of live data under load but makes garbage
 * at ~100 MB/s, and V8's default heap growth let the old space reach 150 MB before a
 * full collection, so resident memory swung between 220 and 275 MB from run to run.
 * With the heap allowed to grow 100% past its live data, it stayed near 200 MB at the
 * same throughput (docs/jobs/audit-write.md, Performance).
 */
import { setFlagsFromString } from 'node:v8';
import type { Config } from '../../lib/config.js';

/** Sets V8's heap growth to `config.heapGrowingPercent` (HEAP_GROWING_PERCENT); 0 leaves V8's default. */
export function applyHeapGrowth(config: Pick<Config, 'heapGrowingPercent'>): void {
  // V8 reads this flag whenever it sets the next collection's limit, so setting it at
  // run time takes effect from the next full collection on.
  if (config.heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`);
}
