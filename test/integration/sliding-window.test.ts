// The sliding-window limiter against the real Redis: exact under concurrency, the
// window slides (not fixed buckets), keys are independent and expire.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { createSlidingWindowLimiter } from '../../lib/ratelimit/sliding-window.js';
import { randomPrefix, REDIS_URL } from '../helpers/env.js';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const other = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const prefix = randomPrefix('sw');

test.after(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await other.quit();
});

test('a burst of twice the limit admits exactly the limit, across two connections', async () => {
  const a = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
  const b = createSlidingWindowLimiter(other, { keyPrefix: prefix });
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).hit('burst', 100, 60_000)));
  assert.is(results.filter((r) => r.allowed).length, 100);
  const denied = results.find((r) => !r.allowed)!;
  assert.ok(denied.retryAfterMs >= 1 && denied.retryAfterMs <= 60_000);
  assert.is(denied.remaining, 0);
});

test('the window slides: hits age out one by one, with the right retry time', async () => {
  let now = 1_000_000;
  const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix, clock: () => now });
  const hit = async (t: number) => {
    now = t;
    return limiter.hit('slide', 3, 1000);
  };
  assert.ok((await hit(1_000_000)).allowed);
  assert.ok((await hit(1_000_400)).allowed);
  assert.ok((await hit(1_000_800)).allowed);
  const denied = await hit(1_000_900);
  assert.not.ok(denied.allowed);
  assert.is(denied.retryAfterMs, 100, 'the first hit leaves the window at 1,001,000');
  assert.ok((await hit(1_001_001)).allowed, 'a fixed window would still refuse here or have allowed more before');
  assert.not.ok((await hit(1_001_002)).allowed);
});

test('keys are independent and expire with their window', async () => {
  const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
  assert.ok((await limiter.hit('k1', 1, 5000)).allowed);
  assert.not.ok((await limiter.hit('k1', 1, 5000)).allowed);
  assert.ok((await limiter.hit('k2', 1, 5000)).allowed);
  const ttl = await redis.pttl(`${prefix}:k1`);
  assert.ok(ttl > 0 && ttl <= 5000, `ttl ${ttl}`);
});

test('bad limits are refused with a clear error', async () => {
  const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
  for (const [limit, window] of [[0, 1000], [1.5, 1000], [5, 0]]) {
    try {
      await limiter.hit('x', limit!, window!);
      assert.unreachable();
    } catch (err) {
      assert.instance(err, RangeError);
    }
  }
});

test.run();
