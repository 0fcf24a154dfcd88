// The group committer on its own, with an in-memory commit function (pure logic, no
// database involved): batches form while a commit runs, maxBatch bounds them, outcomes
// come back per item in order, a transient error fails the whole batch, a bad item
// among several fails alone, drain() waits for everything. No test depends on timing:
// commits are held open and released by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createGroupCommitter } from '../../workers/audit/group-commit.js';
import type { CommitOutcome } from '../../lib/audit/store.js';

class Transient extends Error {}
const written = (n: number): CommitOutcome => ({ status: 'written', seq: String(n) });
const seqs = (os: CommitOutcome[]) => os.map((o) => ('seq' in o ? o.seq : o.status));

/** The rejection of a promise that must reject. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A commit function whose calls stay open until released, in call order. */
function gatedCommit() {
  const batches: number[][] = [];
  const gates: Deferred[] = [];
  const started: Deferred[] = Array.from({ length: 20 }, () => deferred());
  const commit = async (items: number[]) => {
    const i = batches.push([...items]) - 1;
    const gate = deferred();
    gates.push(gate);
    started[i]!.resolve();
    await gate.promise;
    return items.map(written);
  };
  return { commit, batches, started: (i: number) => started[i]!.promise, release: (i: number) => gates[i]!.resolve() };
}

test('items submitted while a commit runs share the next transaction', async () => {
  const g = gatedCommit();
  const sizes: number[] = [];
  const c = createGroupCommitter<number>({
    maxBatch: 100,
    isTransient: () => false,
    commit: g.commit,
    onBatch: (n) => sizes.push(n),
  });
  const first = c.submit([1]);
  await g.started(0);
  const later = [c.submit([2, 3]), c.submit([4]), c.submit([5, 6, 7])];
  g.release(0);
  await g.started(1);
  g.release(1);
  assert.equal(seqs(await first), ['1']);
  assert.equal((await Promise.all(later)).map(seqs), [['2', '3'], ['4'], ['5', '6', '7']]);
  assert.equal(g.batches, [[1], [2, 3, 4, 5, 6, 7]]);
  assert.equal(sizes, [1, 6]);
  await c.drain();
});

test('submissions in the same turn share one transaction', async () => {
  const batches: number[][] = [];
  const c = createGroupCommitter<number>({
    maxBatch: 100,
    isTransient: () => false,
    commit: async (items) => (batches.push(items), items.map(written)),
  });
  await Promise.all([c.submit([1]), c.submit([2]), c.submit([3, 4])]);
  assert.equal(batches, [[1, 2, 3, 4]]);
});

test('maxBatch bounds every transaction, also for a backlog built while one runs', async () => {
  const g = gatedCommit();
  const c = createGroupCommitter<number>({ maxBatch: 3, isTransient: () => false, commit: g.commit });
  const a = c.submit([1, 2, 3, 4, 5, 6, 7]);
  await g.started(0);
  const b = c.submit([8, 9]);
  for (let i = 0; i < 3; i++) {
    await g.started(i);
    g.release(i);
  }
  assert.equal(seqs(await a), ['1', '2', '3', '4', '5', '6', '7']);
  assert.equal(seqs(await b), ['8', '9']);
  assert.equal(g.batches, [
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ]);
});

test('outcomes are returned per item, in order, whatever their status', async () => {
  const c = createGroupCommitter<string>({
    maxBatch: 100,
    isTransient: () => false,
    commit: async (items) =>
      items.map((s, i): CommitOutcome =>
        s.startsWith('dup')
          ? { status: 'duplicate', seq: `d${i}` }
          : s.startsWith('ghost')
            ? { status: 'unknown_tenant' }
            : { status: 'written', seq: `w${i}` },
      ),
  });
  const [x, y] = await Promise.all([c.submit(['a', 'dup-b', 'ghost-c']), c.submit(['dup-d', 'e'])]);
  assert.equal(x, [{ status: 'written', seq: 'w0' }, { status: 'duplicate', seq: 'd1' }, { status: 'unknown_tenant' }]);
  assert.equal(y, [
    { status: 'duplicate', seq: 'd3' },
    { status: 'written', seq: 'w4' },
  ]);
});

test('a transient error rejects every item of the batch and is not retried item by item', async () => {
  const calls: number[][] = [];
  const c = createGroupCommitter<number>({
    maxBatch: 10,
    isTransient: (e) => e instanceof Transient,
    commit: async (items) => {
      calls.push(items);
      throw new Transient('connection refused');
    },
  });
  const outcomes = await Promise.allSettled([c.submit([1, 2]), c.submit([3])]);
  assert.equal(
    outcomes.map((o) => o.status),
    ['rejected', 'rejected'],
  );
  for (const o of outcomes) assert.instance((o as PromiseRejectedResult).reason, Transient);
  assert.equal(calls, [[1, 2, 3]]);
  await c.drain();
});

test('a non-transient error in a batch of several retries items one by one: only the bad one fails', async () => {
  const calls: number[][] = [];
  const c = createGroupCommitter<number>({
    maxBatch: 10,
    isTransient: (e) => e instanceof Transient,
    commit: async (items) => {
      calls.push(items);
      if (items.includes(13)) throw new Error('value out of range');
      return items.map(written);
    },
  });
  const settled = await Promise.allSettled([c.submit([11, 12]), c.submit([13]), c.submit([14])]);
  assert.equal(
    settled.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal(seqs((settled[0] as PromiseFulfilledResult<CommitOutcome[]>).value), ['11', '12']);
  assert.equal(seqs((settled[2] as PromiseFulfilledResult<CommitOutcome[]>).value), ['14']);
  assert.match(String((settled[1] as PromiseRejectedResult).reason), 'value out of range');
  assert.equal(calls, [[11, 12, 13, 14], [11], [12], [13], [14]]);
});

test('a lone item failing non-transiently is rejected without a retry', async () => {
  let calls = 0;
  const c = createGroupCommitter<number>({
    maxBatch: 10,
    isTransient: () => false,
    commit: async () => (calls++, Promise.reject(new Error('bad row'))),
  });
  assert.match(String(await rejection(c.submit([1]))), 'bad row');
  assert.is(calls, 1);
});

test('the committer keeps working after a failed batch', async () => {
  let fail = true;
  const c = createGroupCommitter<number>({
    maxBatch: 10,
    isTransient: () => true,
    commit: async (items) => {
      if (fail) throw new Transient('down');
      return items.map(written);
    },
  });
  assert.instance(await rejection(c.submit([1])), Transient);
  fail = false;
  assert.equal(seqs(await c.submit([2])), ['2']);
});

test('drain waits for queued and running commits; resolves at once when idle', async () => {
  const c0 = createGroupCommitter<number>({
    maxBatch: 10,
    isTransient: () => false,
    commit: async (items) => items.map(written),
  });
  await c0.drain();
  const g = gatedCommit();
  const c = createGroupCommitter<number>({ maxBatch: 2, isTransient: () => false, commit: g.commit });
  const done: number[] = [];
  void c.submit([1, 2]).then(() => done.push(1));
  void c.submit([3]).then(() => done.push(3));
  let drained = false;
  const d = c.drain().then(() => (drained = true));
  await g.started(0);
  assert.is(drained, false);
  g.release(0);
  await g.started(1);
  assert.is(drained, false);
  g.release(1);
  await d;
  assert.equal(g.batches, [[1, 2], [3]]);
  assert.equal(done.sort(), [1, 3]);
});

test('abort rejects everything queued and anything submitted later, starts no new transaction, and lets the running one end', async () => {
  const g = gatedCommit();
  const c = createGroupCommitter<number>({ maxBatch: 100, isTransient: () => false, commit: g.commit });
  const running = c.submit([1]);
  await g.started(0);
  const queued = c.submit([2, 3]);
  const reason = new Error('shutting down');
  c.abort(reason);
  assert.is(await rejection(queued), reason);
  assert.is(await rejection(c.submit([4])), reason);
  g.release(0);
  assert.equal(seqs(await running), ['1'], 'the transaction under way ends as it would have');
  await c.drain();
  assert.equal(g.batches, [[1]], 'no transaction after the abort');
});

test.run();
