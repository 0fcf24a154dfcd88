// The semaphore's bounded bypass (smallBypass, used by audit-write for fair dispatch): a
// small request passes a large one waiting for room when it fits now, up to a quarter of
// the capacity while that one waits; without the option the order is strict.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSemaphore } from '../../lib/semaphore.js';

test('a small request passes a waiting large one, within a quarter of the capacity', async () => {
  const s = createSemaphore(100, { smallBypass: 10 });
  const held = await s.acquire(60);
  let large = false;
  void s.acquire(60).then(() => (large = true));
  const granted: number[] = [];
  for (let i = 0; i < 5; i++) void s.acquire(10).then(() => granted.push(i));
  await new Promise((r) => setImmediate(r));
  // 40 units free: two 10s fit the budget of 25, the third would pass it.
  assert.equal(granted, [0, 1]);
  assert.is(large, false);
  held();
  await new Promise((r) => setImmediate(r));
  assert.is(large, true, 'the large one goes once room frees');
});

test('without smallBypass the order is strict', async () => {
  const s = createSemaphore(100);
  const held = await s.acquire(60);
  void s.acquire(60);
  let small = false;
  void s.acquire(10).then(() => (small = true));
  await new Promise((r) => setImmediate(r));
  assert.is(small, false);
  held();
});

test('with smallReserve: small requests are granted above a capacity that large ones keep full, up to the reserve', async () => {
  const s = createSemaphore(100, { smallBypass: 10, smallReserve: 25 });
  const held = await s.acquire(100);
  let large = false;
  void s.acquire(100).then(() => (large = true));
  const granted: number[] = [];
  const releases: Array<() => void> = [];
  for (let i = 0; i < 4; i++)
    void s.acquire(10).then((r) => {
      granted.push(i);
      releases.push(r);
    });
  await new Promise((r) => setImmediate(r));
  assert.equal(granted, [0, 1], 'two of 10 within the reserve of 25; the third waits');
  assert.is(s.inUse, 120);
  releases[0]!();
  await new Promise((r) => setImmediate(r));
  assert.equal(granted, [0, 1, 2], 'a freed reserve unit goes to the next small one');
  assert.is(large, false);
  held();
  await new Promise((r) => setImmediate(r));
  assert.is(large, true, 'the large one still gets the capacity when it frees');
  assert.throws(() => createSemaphore(10, { smallBypass: 1, smallReserve: -1 }), /smallReserve/);
});

test.run();
