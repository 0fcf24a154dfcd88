// The sliding-window limiter against the real Redis: exact under concurrency (one or
// two connections), the window slides (not fixed buckets), keys are independent and
// expire, bad arguments are refused before Redis is touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSlidingWindowLimiter } from '../../../lib/ratelimit/sliding-window.js';
import { makeRedisPair } from '../../helpers/redis-pair.js';

const { redis, other, withPrefix, close } = makeRedisPair('sw');

test.after(close);

test('a burst of twice the limit admits exactly the limit', () =>
  withPrefix(async (prefix) => {
    const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
    const results = await Promise.all(Array.from({ length: 200 }, () => limiter.hit('burst', 100, 60_000)));
    const allowed = results.filter((r) => r.allowed);
    assert.is(allowed.length, 100);
    assert.equal(allowed.map((r) => r.count).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1), 'each admitted hit saw its own count');
    for (const r of results.filter((r) => !r.allowed)) {
      assert.is(r.count, 100);
      assert.is(r.remaining, 0);
      assert.ok(r.retryAfterMs >= 1 && r.retryAfterMs <= 60_000, `retryAfterMs ${r.retryAfterMs}`);
    }
    for (const r of allowed) assert.is(r.retryAfterMs, 0);
    assert.is(await redis.zcard(`${prefix}:burst`), 100, 'denied hits are not recorded');
  }));

test('hits of one turn share script calls, in order, also past the per-call maximum', () =>
  withPrefix(async (prefix) => {
    const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
    const results = await Promise.all(Array.from({ length: 2500 }, () => limiter.hit('big', 1500, 60_000)));
    assert.equal(results.map((r) => r.allowed), Array.from({ length: 2500 }, (_, i) => i < 1500), 'the first 1500 callers are the admitted ones');
    assert.is(results[1499]!.count, 1500);
    assert.is(results[1500]!.remaining, 0);
    assert.is(await redis.zcard(`${prefix}:big`), 1500);
  }));

test('callers are admitted in call order when the clock moves on within one turn', () =>
  withPrefix(async (prefix) => {
    // The clock ticks after the 1,200th call: the turn's hits fall into two milliseconds.
    let calls = 0;
    const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix, clock: () => 1_000_000 + (calls++ < 1200 ? 0 : 1) });
    const results = await Promise.all(Array.from({ length: 2500 }, () => limiter.hit('tick', 1500, 60_000)));
    const admitted = results.map((r, i) => (r.allowed ? i : -1)).filter((i) => i >= 0);
    assert.is(admitted.length, 1500);
    assert.is(admitted[admitted.length - 1], 1499, 'the first 1500 callers, not a later batch before an earlier one');
  }));

test('two limiter instances on two connections sharing a key admit exactly the limit in total', () =>
  withPrefix(async (prefix) => {
    const a = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
    const b = createSlidingWindowLimiter(other, { keyPrefix: prefix });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).hit('shared', 100, 60_000)));
    assert.is(results.filter((r) => r.allowed).length, 100);
    for (const r of results.filter((r) => !r.allowed)) assert.ok(r.retryAfterMs >= 1 && r.retryAfterMs <= 60_000, `retryAfterMs ${r.retryAfterMs}`);
    assert.is(await redis.zcard(`${prefix}:shared`), 100);
  }));

test('the window slides: hits age out one by one, with the right retry time', () =>
  withPrefix(async (prefix) => {
    let now = 0;
    const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix, clock: () => now });
    const hit = (t: number) => {
      now = t;
      return limiter.hit('slide', 3, 1000);
    };
    assert.ok((await hit(0)).allowed);
    assert.ok((await hit(400)).allowed);
    const third = await hit(800);
    assert.ok(third.allowed);
    assert.is(third.remaining, 0);
    const denied = await hit(900);
    assert.not.ok(denied.allowed);
    assert.is(denied.retryAfterMs, 100, 'the hit at 0 leaves the window at 1000');
    assert.is(denied.count, 3);
    assert.ok((await hit(1001)).allowed, 'the hit at 0 has left the window');
    const next = await hit(1002);
    assert.not.ok(next.allowed, 'a fixed window starting at 1000 would allow 3 here; the sliding window still holds 400, 800, 1001');
    assert.is(next.retryAfterMs, 398, 'the hit at 400 leaves at 1400');
    assert.ok((await hit(1400)).allowed);
  }));

test('a caller whose clock lags is never told to wait longer than the window', () =>
  withPrefix(async (prefix) => {
    const ahead = createSlidingWindowLimiter(redis, { keyPrefix: prefix, clock: () => 10_000 });
    const behind = createSlidingWindowLimiter(other, { keyPrefix: prefix, clock: () => 9_990 });
    assert.ok((await ahead.hit('skew', 1, 1000)).allowed);
    const denied = await behind.hit('skew', 1, 1000);
    assert.not.ok(denied.allowed);
    assert.is(denied.retryAfterMs, 1000);
  }));

test('keys are independent and expire with their window', () =>
  withPrefix(async (prefix) => {
    const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
    assert.ok((await limiter.hit('k1', 1, 5000)).allowed);
    assert.not.ok((await limiter.hit('k1', 1, 5000)).allowed);
    assert.ok((await limiter.hit('k2', 1, 5000)).allowed, 'k2 is untouched by k1');
    assert.ok((await limiter.hit('k3', 2, 5000)).allowed);
    for (const k of ['k1', 'k2', 'k3']) {
      const ttl = await redis.pttl(`${prefix}:${k}`);
      assert.ok(ttl > 0 && ttl <= 5000, `${k} ttl ${ttl}`);
    }
    const short = await limiter.hit('short', 1, 50);
    assert.ok(short.allowed);
    await new Promise((r) => setTimeout(r, 120));
    assert.is(await redis.exists(`${prefix}:short`), 0, 'the key is gone once its window has passed');
  }));

test('bad arguments are refused with a clear error, before Redis is touched', () =>
  withPrefix(async (prefix) => {
    const limiter = createSlidingWindowLimiter(redis, { keyPrefix: prefix });
    const cases: Array<[number, number, RegExp]> = [
      [0, 1000, /limit must be a whole number of at least 1 \(got 0\)/],
      [-3, 1000, /limit must be/],
      [1.5, 1000, /limit must be .*\(got 1\.5\)/],
      [Number.NaN, 1000, /limit must be/],
      [5, 0, /windowMs must be a whole number of milliseconds, at least 1 \(got 0\)/],
      [5, 2.5, /windowMs must be/],
      [5, Number.POSITIVE_INFINITY, /windowMs must be/],
    ];
    for (const [limit, windowMs, message] of cases) {
      try {
        await limiter.hit('x', limit, windowMs);
        assert.unreachable(`limit ${limit}, windowMs ${windowMs} should have thrown`);
      } catch (err) {
        assert.instance(err, RangeError);
        assert.match((err as Error).message, message);
      }
    }
    try {
      await limiter.hit('', 1, 1000);
      assert.unreachable('an empty key should have thrown');
    } catch (err) {
      assert.instance(err, TypeError);
      assert.match((err as Error).message, /key must be a non-empty string/);
    }
    const broken = createSlidingWindowLimiter(redis, { keyPrefix: prefix, clock: () => Number.NaN });
    try {
      await broken.hit('x', 1, 1000);
      assert.unreachable('a NaN clock should have thrown');
    } catch (err) {
      assert.match((err as Error).message, /clock must return a finite number/);
    }
    assert.throws(() => createSlidingWindowLimiter(redis, { keyPrefix: '' }), /keyPrefix must be a non-empty string/);
    assert.is(await redis.exists(`${prefix}:x`), 0, 'nothing was written');
  }));

test.run();
