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

function setup(keyed: boolean) {
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

test.run();
