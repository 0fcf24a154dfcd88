// The group committer on its own, with an in-memory commit function (pure logic, no
// database involved): batches form while a commit runs, outcomes come back in order,
// a transient error fails the whole batch, a bad item fails alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createGroupCommitter } from '../../workers/audit/group-commit.js';
import type { CommitOutcome } from '../../lib/audit/store.js';

class Transient extends Error {}
const written = (n: number): CommitOutcome => ({ status: 'written', seq: String(n) });

test('items submitted while a commit runs share the next one; outcomes keep their order', async () => {
  const batches: number[][] = [];
  const c = createGroupCommitter<number>({
    maxBatch: 100,
    isTransient: () => false,
    commit: async (items) => {
      batches.push(items);
      await new Promise((r) => setTimeout(r, 20));
      return items.map(written);
    },
  });
  const first = c.submit([1]);
  await new Promise((r) => setTimeout(r, 5));
  const rest = await Promise.all([c.submit([2, 3]), c.submit([4]), c.submit([5])]);
  assert.equal((await first).map((o) => (o as { seq: string }).seq), ['1']);
  assert.equal(rest.map((r) => r.map((o) => (o as { seq: string }).seq)), [['2', '3'], ['4'], ['5']]);
  assert.equal(batches, [[1], [2, 3, 4, 5]]);
  await c.drain();
});

test('maxBatch bounds a transaction', async () => {
  const sizes: number[] = [];
  const c = createGroupCommitter<number>({ maxBatch: 3, isTransient: () => false, commit: async (items) => (sizes.push(items.length), items.map(written)) });
  await c.submit([1, 2, 3, 4, 5, 6, 7]);
  assert.equal(sizes, [3, 3, 1]);
});

test('a transient error fails every item of the batch; a bad item fails alone', async () => {
  const transient = createGroupCommitter<number>({ maxBatch: 10, isTransient: (e) => e instanceof Transient, commit: async () => { throw new Transient('db down'); } });
  const outcomes = await Promise.allSettled([transient.submit([1]), transient.submit([2])]);
  assert.equal(outcomes.map((o) => o.status), ['rejected', 'rejected']);
  const picky = createGroupCommitter<number>({
    maxBatch: 10,
    isTransient: (e) => e instanceof Transient,
    commit: async (items) => {
      if (items.includes(13)) throw new Error('value out of range');
      return items.map(written);
    },
  });
  const mixed = await Promise.allSettled([picky.submit([12]), picky.submit([13]), picky.submit([14])]);
  assert.equal(mixed.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.match(String((mixed[1] as PromiseRejectedResult).reason), 'value out of range');
});

test('drain waits for queued and running commits', async () => {
  let done = 0;
  const c = createGroupCommitter<number>({ maxBatch: 10, isTransient: () => false, commit: async (items) => { await new Promise((r) => setTimeout(r, 10)); done += items.length; return items.map(written); } });
  void c.submit([1, 2]);
  void c.submit([3]);
  await c.drain();
  assert.is(done, 3);
});

test.run();
