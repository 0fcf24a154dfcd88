// The alert-policy decision against the real Redis, with an injected clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createAlertDecider, policyFromSettings, type AlertDecision, type AlertDecisionInput, type AlertPolicy } from '../../../lib/alerts/decide.js';
import { ValidationError } from '../../../lib/errors.js';
import { defaultTenantSettings } from '../../../lib/tenants/settings.js';
import { REDIS_URL, randomPrefix } from '../../helpers/env.js';
import { deleteKeys } from '../../helpers/queues.js';

const redis = new Redis(REDIS_URL);
const prefix = randomPrefix('alert');
let nowMs = Date.parse('2026-01-15T12:00:00Z'); // 13:00 in Berlin
const decider = createAlertDecider(redis, { keyPrefix: prefix, clock: () => new Date(nowMs) });
const base: AlertPolicy = { maxPerWindow: 100, windowMs: 3_600_000, cooldownMs: 0 };

let tenantId = '';
test.before.each(() => {
  tenantId = randomUUID();
});

function alert(over: Partial<AlertDecisionInput> = {}): AlertDecisionInput {
  return { tenantId, alertId: randomUUID(), type: 'disk.full', severity: 'warning', ...over };
}
const decide = (over: Partial<AlertDecisionInput>, policy: AlertPolicy = base) => decider.decide(alert(over), policy);
const brief = (d: AlertDecision) => (d.reason ? `${d.outcome}:${d.reason}` : d.outcome);
const counted = () => redis.zcard(`${prefix}:alert:{${tenantId}}:count`);

test.after(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

test('alert decide: a burst of 100 of one type with a limit of 5 delivers exactly 5', async () => {
  const policy = { ...base, maxPerWindow: 5 };
  const all = await Promise.all(Array.from({ length: 100 }, () => decide({}, policy)));
  assert.is(all.filter((d) => d.outcome === 'deliver').length, 5);
  assert.is(all.filter((d) => brief(d) === 'suppress:rate_limited').length, 95);
  assert.is(await counted(), 5, 'suppressions consume no quota');
});

test('alert decide: the tenant limit is a sliding window on the injected clock', async () => {
  const policy = { ...base, maxPerWindow: 2, windowMs: 60_000 };
  assert.is(brief(await decide({}, policy)), 'deliver');
  nowMs += 30_000;
  assert.is(brief(await decide({}, policy)), 'deliver');
  assert.is(brief(await decide({}, policy)), 'suppress:rate_limited');
  nowMs += 30_001; // the first has left the window
  assert.is(brief(await decide({}, policy)), 'deliver');
  assert.is(brief(await decide({}, policy)), 'suppress:rate_limited');
});

test('alert decide: cooldown per type follows the injected clock', async () => {
  const policy = { ...base, cooldownMs: 300_000 };
  assert.is(brief(await decide({}, policy)), 'deliver');
  nowMs += 299_999;
  assert.is(brief(await decide({}, policy)), 'suppress:cooldown');
  assert.is(brief(await decide({ type: 'cpu.high' }, policy)), 'deliver', 'another type is not cooling down');
  nowMs += 1;
  assert.is(brief(await decide({}, policy)), 'deliver');
  assert.is(await counted(), 3);
});

test('alert decide: the per-user sliding-window throttle', async () => {
  const policy = { ...base, userLimit: 2, userWindowMs: 60_000 };
  assert.is(brief(await decide({ userId: 'u1' }, policy)), 'deliver');
  assert.is(brief(await decide({ userId: 'u1' }, policy)), 'deliver');
  assert.is(brief(await decide({ userId: 'u1' }, policy)), 'suppress:user_throttled');
  assert.is(brief(await decide({ userId: 'u2' }, policy)), 'deliver');
  assert.is(brief(await decide({}, policy)), 'deliver', 'alerts without a user are not throttled');
  assert.is(await counted(), 4, 'the throttled alert consumed no tenant quota');
  nowMs += 60_001;
  assert.is(brief(await decide({ userId: 'u1' }, policy)), 'deliver');
});

test('alert decide: a repeated dedupe key is a duplicate and consumes nothing', async () => {
  const first = await decide({ dedupeKey: 'audit-1' });
  const again = await decide({ dedupeKey: 'audit-1', type: 'other' });
  assert.is(brief(first), 'deliver');
  assert.is(brief(again), 'suppress:duplicate');
  const replay = alert({ dedupeKey: 'audit-2' });
  await decider.decide(replay, base);
  assert.is(brief(await decider.decide(replay, base)), 'deliver', 'a replay of the same alert gets its own decision back, not "duplicate"');
  assert.is(await counted(), 2);
  const ttl = await redis.pttl(`${prefix}:alert:{${tenantId}}:seen:audit-1`);
  assert.ok(ttl > 86_000_000 && ttl <= 86_400_000, `remembered 24 h (pttl ${ttl})`);
});

test('alert decide: quiet hours defer, drop and bypass (Berlin, 22:00-07:00)', async () => {
  nowMs = Date.parse('2026-01-15T22:30:00Z'); // 23:30 in Berlin
  const quietHours = { enabled: true, start: '22:00', end: '07:00', timezone: 'Europe/Berlin' };
  const defer = await decide({}, { ...base, quietHours });
  assert.is(defer.outcome, 'defer');
  assert.is(defer.deferUntil?.toISOString(), '2026-01-16T06:00:00.000Z');
  assert.is(brief(await decide({}, { ...base, quietHours: { ...quietHours, mode: 'drop' } })), 'suppress:quiet_hours');
  assert.is(brief(await decide({ severity: 'critical' }, { ...base, quietHours })), 'deliver', 'critical bypasses by default');
  const fromHigh = { ...base, quietHours: { ...quietHours, bypassSeverity: 'high' as const } };
  assert.is(brief(await decide({ severity: 'high' }, fromHigh)), 'deliver');
  assert.is(brief(await decide({ severity: 'warning' }, fromHigh)), 'defer');
  assert.is(await counted(), 2, 'deferred and dropped alerts are not counted');
  nowMs = Date.parse('2026-01-16T06:00:00Z');
  assert.is(brief(await decide({}, { ...base, quietHours })), 'deliver', 'after 07:00 local');
});

test('alert decide: grouping opens, joins, and opens anew after flushAt', async () => {
  const policy = { ...base, groupWaitMs: 30_000, cooldownMs: 300_000 };
  const opener = alert();
  const open = await decider.decide(opener, policy);
  assert.equal(open.group, { id: opener.alertId, flushAt: new Date(nowMs + 30_000), opened: true });
  nowMs += 10_000;
  const join = await decide({}, policy);
  assert.is(join.outcome, 'group');
  assert.equal(join.group, { id: opener.alertId, flushAt: new Date(nowMs + 20_000), opened: false });
  const other = await decide({ groupKey: 'disk.full:host-2', type: 'disk.full2' }, policy);
  assert.ok(other.group?.opened && other.group.id !== opener.alertId, 'another key, another group');
  assert.is(await counted(), 2, 'joiners consume nothing');
  nowMs += 20_000; // flushAt reached: the group is closed; the opener's cooldown still holds
  assert.is(brief(await decide({}, policy)), 'suppress:cooldown');
  nowMs += 300_000;
  const next = alert();
  assert.equal((await decider.decide(next, policy)).group, { id: next.alertId, flushAt: new Date(nowMs + 30_000), opened: true });
});

test('alert decide: an opener is refused by the limit; joiners are not', async () => {
  const policy = { ...base, maxPerWindow: 1, groupWaitMs: 30_000 };
  assert.ok((await decide({ groupKey: 'a' }, policy)).group?.opened);
  assert.is((await decide({ groupKey: 'a' }, policy)).outcome, 'group');
  assert.is(brief(await decide({ groupKey: 'b' }, policy)), 'suppress:rate_limited');
  assert.is(brief(await decide({ groupKey: 'b' }, policy)), 'suppress:rate_limited', 'no group was opened');
});

test('alert decide: critical skips grouping, cooldown and the limit, and is still counted', async () => {
  const policy = { ...base, maxPerWindow: 1, cooldownMs: 300_000, groupWaitMs: 30_000 };
  for (let i = 0; i < 3; i++) assert.is(brief(await decide({ severity: 'critical' }, policy)), 'deliver');
  assert.is(await counted(), 3);
  assert.is(brief(await decide({ severity: 'high', type: 'fresh' }, policy)), 'suppress:rate_limited');
  assert.is(brief(await decide({ severity: 'critical', userId: 'u' }, { ...policy, userLimit: 1 })), 'deliver');
  assert.is(brief(await decide({ severity: 'critical', userId: 'u' }, { ...policy, userLimit: 1 })), 'suppress:user_throttled');
});

test('alert decide: a policy change applies to the next call', async () => {
  assert.is(brief(await decide({}, { ...base, maxPerWindow: 1 })), 'deliver');
  assert.is(brief(await decide({ type: 't2' }, { ...base, maxPerWindow: 1 })), 'suppress:rate_limited');
  assert.is(brief(await decide({ type: 't2' }, { ...base, maxPerWindow: 2 })), 'deliver');
  assert.is(brief(await decide({ type: 't3' }, { ...base, maxPerWindow: 9, cooldownMs: 300_000 })), 'deliver');
  nowMs += 60_000;
  assert.is(brief(await decide({ type: 't3' }, { ...base, maxPerWindow: 9, cooldownMs: 300_000 })), 'suppress:cooldown');
  assert.is(brief(await decide({ type: 't3' }, { ...base, maxPerWindow: 9, cooldownMs: 30_000 })), 'deliver', 'a shorter cooldown applies at once');
});

test('alert decide: the default tenant settings map to a working policy', async () => {
  const policy = policyFromSettings(defaultTenantSettings().alerts);
  assert.equal({ ...policy, quietHours: undefined }, { maxPerWindow: 20, windowMs: 3_600_000, cooldownMs: 300_000, groupWaitMs: 0, userLimit: 10, userWindowMs: 60_000, quietHours: undefined });
  assert.is(policy.quietHours?.timezone, 'UTC');
  assert.is(brief(await decide({}, policy)), 'deliver');
  assert.is(brief(await decide({}, policy)), 'suppress:cooldown');
});

test('alert decide: the same alert decided again gets its first decision back and consumes nothing', async () => {
  const policy = { ...base, cooldownMs: 60_000, maxPerWindow: 2 };
  const first = alert({ type: 'replayed' });
  assert.is(brief(await decider.decide(first, policy)), 'deliver');
  const afterFirst = await counted();
  nowMs += 1000;
  // Deciding anew would meet its own cooldown: the replay must still say deliver.
  assert.is(brief(await decider.decide(first, policy)), 'deliver');
  assert.is(await counted(), afterFirst, 'the replay took no second place in the tenant limit');
  assert.is(brief(await decide({ type: 'replayed' }, policy)), 'suppress:cooldown', 'another alert of the type is cooled down');
  const opener = alert({ type: 'grouped', groupKey: 'replay-group' });
  const opened = await decider.decide(opener, { ...base, groupWaitMs: 5_000 });
  const again = await decider.decide(opener, { ...base, groupWaitMs: 5_000 });
  assert.equal([again.outcome, again.group?.id, again.group?.opened, again.group?.flushAt.getTime()], ['group', opener.alertId, true, opened.group?.flushAt.getTime()], 'still the opener, not a member of its own group');
  const ttl = await redis.pttl(`${prefix}:alert:{${tenantId}}:decided:${first.alertId}`);
  assert.ok(ttl > 890_000 && ttl <= 900_000, `remembered 15 min (pttl ${ttl})`);
  decider.forget(first);
  await decider.forgotten();
  assert.is(await redis.exists(`${prefix}:alert:{${tenantId}}:decided:${first.alertId}`), 0, 'forgotten');
});

test('alert decide: forgets of one turn go out together, per tenant, and all are carried out', async () => {
  const other = randomUUID();
  const inputs = [...Array.from({ length: 30 }, () => alert({ type: 'forget-a' })), ...Array.from({ length: 30 }, () => alert({ type: 'forget-b', tenantId: other }))];
  for (const input of inputs) await decider.decide(input, { ...base, maxPerWindow: 1000 });
  const keyOf = (i: { tenantId: string; alertId: string }) => `${prefix}:alert:{${i.tenantId}}:decided:${i.alertId}`;
  assert.is(await redis.exists(...inputs.map(keyOf)), 60, 'every decision remembered');
  for (const input of inputs) decider.forget(input);
  await decider.forgotten();
  assert.is(await redis.exists(...inputs.map(keyOf)), 0, 'every one forgotten');
});

test('alert decide: watched keys come back with their TTLs, on a replay too, and are never written', async () => {
  const paused = `${prefix}:alert:{${tenantId}}:channel:watch-1:paused-until`;
  const absent = `${prefix}:alert:{${tenantId}}:channel:watch-2:paused-until`;
  await redis.set(paused, 'x', 'PX', 60_000);
  const input = alert({ type: 'watched' });
  const first = await decider.decide(input, base, [paused, absent]);
  assert.is(first.outcome, 'deliver');
  assert.ok(first.watchedTtlMs![0]! > 55_000 && first.watchedTtlMs![0]! <= 60_000, `pttl ${first.watchedTtlMs}`);
  assert.is(first.watchedTtlMs![1], -2, 'no key');
  await redis.del(paused);
  const replay = await decider.decide(input, base, [paused, absent]);
  assert.equal([replay.outcome, replay.watchedTtlMs], ['deliver', [-2, -2]], 'read anew on the replay, not remembered with the decision');
  assert.is(await redis.exists(paused, absent), 0, 'only read');
  assert.is((await decider.decide(alert({ type: 'unwatched' }), base)).watchedTtlMs, undefined);
});

test('alert decide: every key it writes expires', async () => {
  const policy = { ...base, cooldownMs: 1000, groupWaitMs: 1000, userLimit: 5 };
  await decide({ userId: 'u', dedupeKey: 'd', groupKey: 'g' }, policy);
  await decide({ severity: 'critical', userId: 'u' }, policy);
  const keys = await redis.keys(`${prefix}:alert:{${tenantId}}:*`);
  assert.is(keys.length, 7, keys.join(', ')); // the five policy keys and each alert's remembered decision
  for (const k of keys) assert.ok((await redis.pttl(k)) > 0, `${k} has a TTL`);
});

test('alert decide: bad input is a ValidationError naming each field, and nothing is written', async () => {
  const bad = { tenantId: 'a{b}', alertId: '', type: 'x', severity: 'loud' } as unknown as AlertDecisionInput;
  const policy = { maxPerWindow: 0, windowMs: 1.5, cooldownMs: -1, quietHours: { enabled: true, start: '7:00', end: '07:00', timezone: 'Nowhere/City' } };
  try {
    await decider.decide(bad, policy);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, ValidationError);
    const paths = (err as ValidationError).fields.map((f) => f.path);
    const expected = ['tenantId', 'alertId', 'severity', 'policy.maxPerWindow', 'policy.windowMs', 'policy.cooldownMs'];
    assert.equal(paths, [...expected, 'policy.quietHours.start', 'policy.quietHours.timezone']);
  }
  assert.equal(await redis.keys(`${prefix}:alert:{a{b}}:*`), []);
});

test.run();
