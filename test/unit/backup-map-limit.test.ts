// mapLimit (lib/backup/iterate.ts), the bounded map under object copies: after a failure
// no new call starts, and it rejects only once the calls in flight have settled, so a
// failed backup does not go on copying while its cleanup (or the retry's) runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mapLimit } from '../../lib/backup/iterate.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('results in input order, at most `limit` in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
    most = Math.max(most, ++inFlight);
    await tick(n);
    inFlight--;
    return n * 10;
  });
  assert.equal(out, [50, 10, 40, 20, 30]);
  assert.is(most, 2);
});

test('a failure: no new call starts, and the rejection waits for the calls in flight', async () => {
  const started: number[] = [];
  const settled: number[] = [];
  const items = Array.from({ length: 20 }, (_, i) => i);
  const err = await mapLimit(items, 3, async (i) => {
    started.push(i);
    if (i === 1) {
      await tick(1);
      throw new Error('copy 1 failed');
    }
    await tick(30);
    settled.push(i);
    return i;
  }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.is(err?.message, 'copy 1 failed');
  assert.equal(started, [0, 1, 2], 'nothing started after the failure');
  assert.equal(settled.sort(), [0, 2], 'the calls in flight had settled before the rejection');
  await tick(50);
  assert.equal(started, [0, 1, 2], 'nothing started later either');
});

test.run();
