// The failure lockout against the real Redis: exactly `limit` failures judged and one
// lock reported under concurrency from two connections; a lock refuses checks (a
// correct password) too; the window slides; the lock ends and the count starts afresh;
// subjects are independent; bad options are refused before Redis is touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLockout, type LockoutVerdict } from '../../../lib/ratelimit/lockout.js';
import { makeRedisPair } from '../../helpers/redis-pair.js';

const { redis, other, withPrefix, close } = makeRedisPair('lockout');

test.after(close);

function states(verdicts: LockoutVerdict[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of verdicts) {
    const name = v.state === 'locked' && v.lockedNow ? 'locked-now' : v.state;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String(err);
  }
  assert.unreachable('expected a rejection');
  return '';
}

test('300 concurrent failures over two connections: exactly the limit counted, one sets the lock, the rest refused', () =>
  withPrefix(async (prefix) => {
    const a = createLockout(redis, { keyPrefix: prefix, limit: 10, windowMs: 60_000 });
    const b = createLockout(other, { keyPrefix: prefix, limit: 10, windowMs: 60_000 });
    const verdicts = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).fail('ip:203.0.113.1')));
    assert.equal(states(verdicts), { counted: 10, 'locked-now': 1, locked: 289 });
    const counted = verdicts.flatMap((v) => (v.state === 'counted' ? [v.failures] : [])).sort((x, y) => x - y);
    assert.equal(counted, Array.from({ length: 10 }, (_, i) => i + 1), 'each counted failure saw its own count');
    const now = verdicts.find((v) => v.state === 'locked' && v.lockedNow);
    assert.equal(now, { state: 'locked', retryAfterMs: 60_000, lockedNow: true, failures: 11 });
    const check = await a.check('ip:203.0.113.1');
    assert.ok(check.state === 'locked' && !check.lockedNow && check.retryAfterMs > 0 && check.retryAfterMs <= 60_000, JSON.stringify(check));
    assert.equal(await a.check('ip:203.0.113.2'), { state: 'open' }, 'another subject is not locked');
    assert.is(await redis.exists(`${prefix}:failures:ip:203.0.113.1`), 0, 'the count is dropped when the lock is set');
  }));

test('checks never count; the window slides; the lock ends and the count starts afresh', () =>
  withPrefix(async (prefix) => {
    let now = 1_000_000;
    const lockout = createLockout(redis, { keyPrefix: prefix, limit: 3, windowMs: 10_000, lockMs: 300, clock: () => now });
    for (let i = 0; i < 20; i++) assert.equal(await lockout.check('s'), { state: 'open' });
    assert.equal(await lockout.fail('s'), { state: 'counted', failures: 1 });
    now += 6_000;
    assert.equal(await lockout.fail('s'), { state: 'counted', failures: 2 });
    assert.equal(await lockout.fail('s'), { state: 'counted', failures: 3 });
    now += 4_001; // the first failure has left the window
    assert.equal(await lockout.fail('s'), { state: 'counted', failures: 3 });
    const locked = await lockout.fail('s');
    assert.ok(locked.state === 'locked' && locked.lockedNow && locked.failures === 4);
    assert.is((await lockout.check('s')).state, 'locked');
    // The lock's TTL is Redis's own: wait it out.
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(await lockout.check('s'), { state: 'open' });
    assert.equal(await lockout.fail('s'), { state: 'counted', failures: 1 }, 'a fresh count after the lock');
  }));

test('bad options and subjects are refused before Redis is touched', async () => {
  assert.throws(() => createLockout(redis, { keyPrefix: '', limit: 1, windowMs: 1 }), /keyPrefix/);
  assert.throws(() => createLockout(redis, { keyPrefix: 'p', limit: 0, windowMs: 1 }), /limit/);
  assert.throws(() => createLockout(redis, { keyPrefix: 'p', limit: 1, windowMs: 1.5 }), /windowMs/);
  assert.throws(() => createLockout(redis, { keyPrefix: 'p', limit: 1, windowMs: 1, lockMs: -1 }), /lockMs/);
  const lockout = createLockout(redis, { keyPrefix: 'p', limit: 1, windowMs: 1, clock: () => Number.NaN });
  assert.match(await rejection(lockout.fail('')), /subject/);
  assert.match(await rejection(lockout.fail('s')), /clock/);
});

test.run();
