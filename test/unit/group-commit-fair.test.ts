// The group committer's choice of what goes into the next transaction when more is
// queued than one takes, with keyOf (the tenant): the tenants with the fewest queued
// go first, each tenant's items in order, so one tenant's bulk import does not hold
// another's single entry back for several transactions (docs/decisions/0010). Pure
// logic: commits are held open and released by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createGroupCommitter } from '../../workers/audit/group-commit.js';
import type { CommitOutcome } from '../../lib/audit/store.js';

type Item = { t: string; n: number };

function setup(keyed: boolean, lanes?: number) {
  const batches: Item[][] = [];
  const gates: Array<() => void> = [];
  const committer = createGroupCommitter<Item>({
    commit: (items) =>
      new Promise<CommitOutcome[]>((resolve) => {
        batches.push(items);
        gates.push(() => resolve(items.map((i) => ({ status: 'written', seq: String(i.n) }))));
      }),
    maxBatch: 5,
    isTransient: () => false,
    ...(keyed ? { keyOf: (i: Item) => i.t } : {}),
    ...(lanes !== undefined ? { lanes } : {}),
  });
  return { batches, gates, committer };
}

const items = (t: string, from: number, count: number) =>
  Array.from({ length: count }, (_x, i) => ({ t, n: from + i }));
const turn = () => new Promise((r) => setImmediate(r));

test('with keyOf: the tenant with one queued entry goes in the next transaction, ahead of a bulk one; each in order', async () => {
  const { batches, gates, committer } = setup(true);
  const first = committer.submit(items('a', 0, 1));
  await turn();
  await turn();
  // While the first transaction runs: A queues 12, then B one.
  const bulk = committer.submit(items('a', 1, 12));
  const single = committer.submit(items('b', 100, 1));
  gates[0]!();
  await first;
  await turn();
  await turn();
  assert.equal(
    batches[1]!.map((i) => `${i.t}${i.n}`),
    ['b100', 'a1', 'a2', 'a3', 'a4'],
  );
  gates[1]!();
  await single;
  for (let i = 2; i < 5; i++) {
    await turn();
    await turn();
    gates[i]?.();
  }
  await bulk;
  const aOrder = batches
    .flat()
    .filter((i) => i.t === 'a')
    .map((i) => i.n);
  assert.equal(
    aOrder,
    [...aOrder].sort((x, y) => x - y),
    "A's entries keep their order",
  );
});

test('without keyOf: the queue in order, as before', async () => {
  const { batches, gates, committer } = setup(false);
  const first = committer.submit(items('a', 0, 1));
  await turn();
  await turn();
  const bulk = committer.submit(items('a', 1, 12));
  const single = committer.submit(items('b', 100, 1));
  gates[0]!();
  await first;
  await turn();
  await turn();
  assert.equal(
    batches[1]!.map((i) => i.n),
    [1, 2, 3, 4, 5],
  );
  for (let i = 1; i < 6; i++) {
    gates[i]?.();
    await turn();
    await turn();
  }
  await Promise.all([bulk, single]);
});

test("with lanes: a tenant's entry is written beside another's running transaction, not after it", async () => {
  const { batches, gates, committer } = setup(true, 2);
  const first = committer.submit(items('a', 0, 5));
  await turn();
  await turn();
  assert.is(batches.length, 1);
  // A's transaction is still open: A queues more, B one entry.
  const moreA = committer.submit(items('a', 5, 3));
  const single = committer.submit(items('b', 100, 1));
  await turn();
  await turn();
  assert.equal(batches.length, 2, 'a second transaction started beside the first');
  assert.equal(
    batches[1]!.map((i) => `${i.t}${i.n}`),
    ['b100'],
    "only B: A's next entries wait for A's running transaction",
  );
  gates[1]!();
  await single;
  assert.is(batches.length, 2, 'A has nothing new in flight until its transaction ends');
  gates[0]!();
  await first;
  await turn();
  await turn();
  assert.equal(
    batches[2]!.map((i) => `${i.t}${i.n}`),
    ['a5', 'a6', 'a7'],
  );
  gates[2]!();
  await moreA;
  await committer.drain();
});

test('with lanes: at most that many transactions at once, and drain waits for all of them', async () => {
  const { batches, gates, committer } = setup(true, 2);
  const all = ['a', 'b', 'c'].map((t) => committer.submit(items(t, 0, 1)));
  await turn();
  await turn();
  // The burst went into one transaction; then two more tenants come while it runs.
  assert.is(batches.length, 1);
  const later = ['d', 'e'].map((t) => committer.submit(items(t, 0, 1)));
  await turn();
  await turn();
  assert.is(batches.length, 2, 'two lanes: the second takes both new tenants');
  assert.equal(
    batches[1]!.map((i) => i.t),
    ['d', 'e'],
  );
  let drained = false;
  const draining = committer.drain().then(() => (drained = true));
  gates[0]!();
  await Promise.all(all);
  await turn();
  assert.is(drained, false, 'drain waits for the second transaction');
  gates[1]!();
  await Promise.all(later);
  await draining;
});

test('with two lanes free, a bulk tenant goes in a transaction of its own beside the others', async () => {
  const { batches, gates, committer } = setup(true, 2);
  const bulk = committer.submit(items('a', 0, 4));
  const single = committer.submit(items('b', 100, 1));
  await turn();
  await turn();
  assert.equal(
    batches.map((b) => b.map((i) => `${i.t}${i.n}`)),
    [['b100'], ['a0', 'a1', 'a2', 'a3']],
  );
  gates[0]!();
  gates[1]!();
  await Promise.all([bulk, single]);
});

test('lanes above 1 without keyOf, or not a whole number, are refused', () => {
  assert.throws(() => setup(false, 2), /lanes above 1 need keyOf/);
  assert.throws(() => setup(true, 0), /lanes must be a whole number/);
});

test.run();
