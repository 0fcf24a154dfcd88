// The batcher behind the alert ledger's statements and the per-channel slots shared by
// inline and queued sends: batching under load, order of conflicting items (also across
// batches in flight), one bad item not failing its neighbours, and slot waits that give up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBatcher } from '../../workers/alert/stores/batcher.js';
import { createChannelSlots } from '../../workers/alert/sending/slots.js';
import { alertDeliveryPolicy } from '../../lib/contracts/alert-delivery.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

test('batcher: items submitted together share one run; later ones wait for the next', async () => {
  const runs: number[][] = [];
  // The run of item 4 stays open until the test lets it go: no timing involved.
  let letGo!: () => void;
  const held = new Promise<void>((r) => (letGo = r));
  const submit = createBatcher<number, number>({ maxBatch: 100, run: async (items) => { runs.push(items); if (items.includes(4)) await held; return items.map((i) => i * 2); } });
  const first = await Promise.all([1, 2, 3].map(submit));
  assert.equal(first, [2, 4, 6]);
  const a = submit(4);
  while (runs.length < 2) await new Promise((r) => setImmediate(r)); // the run of 4 has started
  const [b, c] = [submit(5), submit(6)];
  letGo();
  assert.equal(await Promise.all([a, b, c]), [8, 10, 12]);
  assert.equal(runs, [[1, 2, 3], [4], [5, 6]]);
});

test('batcher: maxBatch caps a run', async () => {
  const runs: number[][] = [];
  const submit = createBatcher<number, void>({ maxBatch: 2, run: async (items) => { runs.push(items); return items.map(() => undefined); } });
  await Promise.all([1, 2, 3, 4, 5].map(submit));
  assert.equal(runs, [[1, 2], [3, 4], [5]]);
});

test('batcher: conflicting items go in order in separate runs, also with runs in flight', async () => {
  const runs: string[][] = [];
  type Item = { row: string; step: string };
  const submit = createBatcher<Item, void>({
    maxBatch: 100,
    maxInFlight: 3,
    conflicts: (x, y) => x.row === y.row,
    run: async (items) => { runs.push(items.map((i) => `${i.row}${i.step}`)); await tick(); return items.map(() => undefined); },
  });
  await Promise.all([submit({ row: 'a', step: '1' }), submit({ row: 'b', step: '1' }), submit({ row: 'a', step: '2' }), submit({ row: 'c', step: '1' }), submit({ row: 'a', step: '3' })]);
  const order = runs.flat().filter((s) => s.startsWith('a'));
  assert.equal(order, ['a1', 'a2', 'a3']);
  for (const run of runs) assert.ok(run.filter((s) => s.startsWith('a')).length <= 1, JSON.stringify(runs));
  assert.equal(runs[0], ['a1', 'b1', 'c1']);
});

test('batcher: a failing run is retried item by item, so only the bad item fails', async () => {
  const submit = createBatcher<number, number>({
    maxBatch: 100,
    run: async (items) => { if (items.includes(13)) throw new Error('bad item 13'); return items; },
  });
  const results = await Promise.allSettled([1, 13, 2].map(submit));
  assert.equal(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.match(String((results[1] as PromiseRejectedResult).reason), 'bad item 13');
});

test('channel slots: at most perChannelConcurrency held; a wait with waitMs gives up, one without gets the next slot', async () => {
  const n = alertDeliveryPolicy.perChannelConcurrency;
  const slots = createChannelSlots();
  const acquireChannelSlot = slots.acquire;
  const held = await Promise.all(Array.from({ length: n }, () => acquireChannelSlot('ch-test')));
  assert.ok(held.every(Boolean));
  const started = Date.now();
  assert.is(await acquireChannelSlot('ch-test', { waitMs: 50 }), undefined);
  assert.ok(Date.now() - started >= 45);
  const waiting = acquireChannelSlot('ch-test');
  held[0]!();
  held[0]!(); // releasing twice frees one slot only
  const next = await waiting;
  assert.ok(next);
  assert.is(await acquireChannelSlot('ch-test', { waitMs: 20 }), undefined, 'still full: the freed slot went to the waiter');
  for (const release of [next, ...held.slice(1)]) release!();
  const again = await acquireChannelSlot('ch-test', { waitMs: 20 });
  assert.ok(again);
  again!();
});

test.run();
