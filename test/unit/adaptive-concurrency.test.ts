// The audit-write worker's concurrency follows the recent job size: full for
// single-entry jobs, a few for jobs of hundreds of entries, never below 2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concurrencyFor, createConcurrencyTracker } from '../../workers/audit/adaptive-concurrency.js';

test('enough jobs to fill the in-flight cap one and a half times, within 2..max', () => {
  assert.is(concurrencyFor(1, 4000, 200), 200);
  assert.is(concurrencyFor(100, 4000, 200), 60);
  assert.is(concurrencyFor(1000, 4000, 1), 1, 'never above a configured maximum of 1');
  assert.is(concurrencyFor(1000, 4000, 200), 6);
  assert.is(concurrencyFor(100_000, 4000, 200), 2);
  assert.is(concurrencyFor(0, 4000, 200), 200, 'no size known yet: the configured maximum');
  assert.is(concurrencyFor(Number.NaN, 4000, 200), 200);
});

test('the tracker lowers the concurrency at once for large jobs and restores it as they pass', () => {
  const t = createConcurrencyTracker(4000, 200);
  for (let i = 0; i < 50; i++) t.observe(1);
  assert.ok(t.observe(1000) <= 61, 'one 1,000-entry job among small ones: fetch fewer right away');
  let c = 0;
  for (let i = 0; i < 30; i++) c = t.observe(1);
  assert.is(c, 200, 'small jobs again: back to the maximum within a few dozen');
  for (let i = 0; i < 60; i++) c = t.observe(100);
  assert.ok(c >= 60 && c <= 61, `a run of 100-entry jobs settles at about 60 (got ${c})`);
});

test.run();
