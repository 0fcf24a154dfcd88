// lib/fair/deadline.ts: the storing script's deadline in Redis's clock, from the offset
// measured over the quickest round trip, so a host whose clock differs from Redis's
// neither refuses everything (clock behind) nor stores late (clock ahead).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRedisDeadlines } from '../../lib/fair/deadline.js';

test('before any answer the deadline is half the budget after the start, in this host clock', () => {
  const d = createRedisDeadlines(2000, () => 0);
  assert.is(d.deadlineFor(10_000), 11_000);
});

test('the offset comes from the answers: Redis 5 s ahead moves the deadline 5 s later, and says it moved', () => {
  const d = createRedisDeadlines(2000, () => 0);
  // Sent at 1000, answered at 1010, Redis ran it at 6005 of its clock: offset 5000.
  assert.ok(d.observe(1000, 1010, 6005));
  assert.is(d.deadlineFor(2000), 2000 + 5000 + 1000);
  // The same offset again: not moved (a refusal then was a late run, not the clock).
  assert.not.ok(d.observe(3000, 3008, 8004));
});

test('a slower round trip does not replace a quicker one, until the quicker one is half a minute old', () => {
  let now = 0;
  const d = createRedisDeadlines(2000, () => now);
  d.observe(1000, 1002, 1001); // offset 0, rtt 2
  // Saturated: 1.5 s in Redis, whose clock reads 1500 ms ahead of the midpoint. Not trusted.
  assert.not.ok(d.observe(2000, 3500, 4250));
  assert.is(d.deadlineFor(5000), 6000);
  now = 31_000;
  d.observe(40_000, 40_004, 40_102);
  assert.is(d.deadlineFor(50_000), 50_000 + 100 + 1000);
});

test.run();
