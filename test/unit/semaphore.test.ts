// createSemaphore: weighted, first come first served, oversize requests served alone,
// release is idempotent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSemaphore } from '../../lib/semaphore.js';

const tick = () => new Promise((r) => setImmediate(r));

test('holders share the capacity by weight; waiters are served in order as units free', async () => {
  const s = createSemaphore(10);
  const order: string[] = [];
  const a = await s.acquire(6);
  const pb = s.acquire(5).then((r) => (order.push('b'), r));
  const pc = s.acquire(1).then((r) => (order.push('c'), r)); // fits now, but b came first
  await tick();
  assert.equal(order, [], 'nothing is granted while b (first in line) does not fit');
  assert.is(s.inUse, 6);
  a();
  const [b, c] = await Promise.all([pb, pc]);
  assert.equal(order, ['b', 'c']);
  assert.is(s.inUse, 6);
  b();
  c();
  assert.is(s.inUse, 0);
});

test('a request larger than the capacity is served alone as the whole capacity', async () => {
  const s = createSemaphore(4);
  const small = await s.acquire(1);
  let big: (() => void) | undefined;
  void s.acquire(1000).then((r) => (big = r));
  await tick();
  assert.is(big, undefined);
  small();
  await tick();
  assert.ok(big);
  assert.is(s.inUse, 4);
  big!();
  assert.is(s.inUse, 0);
});

test('releasing twice frees the units once', async () => {
  const s = createSemaphore(2);
  const r1 = await s.acquire(1);
  const r2 = await s.acquire(1);
  r1();
  r1();
  assert.is(s.inUse, 1);
  r2();
  assert.is(s.inUse, 0);
});

test('bad capacity or weight is refused with the value named', async () => {
  assert.throws(() => createSemaphore(0), /capacity .* \(got 0\)/);
  const s = createSemaphore(1);
  let message = '';
  await s.acquire(-1).catch((e: Error) => (message = e.message));
  assert.match(message, /weight .* \(got -1\)/);
});

test('tryAcquire gives up after waitMs and leaves the line; a waiter behind it is served, and idle says when nothing is held or awaited', async () => {
  const s = createSemaphore(2);
  const a = await s.acquire(1);
  const big = s.tryAcquire(2, 30); // does not fit while a is held; first in line
  const small = s.acquire(1); // fits, but waits behind big
  await tick();
  assert.is(s.inUse, 1);
  assert.is(await big, undefined, 'gave up');
  const b = await small; // served once big left the head of the line
  assert.is(s.inUse, 2);
  assert.is(await s.tryAcquire(1, 10), undefined, 'full: gives up');
  a();
  b();
  assert.ok(s.idle);
  const c = await s.tryAcquire(2, 10);
  assert.ok(c, 'free: granted at once');
  assert.not.ok(s.idle);
  c!();
});

test.run();
