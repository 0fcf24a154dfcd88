// Backup retention (lib/backup/retention.ts): which backups a prune keeps. Pure, so the
// edges are cases here: month and year boundaries, ISO weeks across New Year, gaps,
// several backups a day, and the newest verified backup that is never pruned.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  backupIdOf,
  backupIdTime,
  isoWeek,
  planRetention,
  type RetentionCandidate,
} from '../../lib/backup/retention.js';

/** A backup at an ISO time, verified or not. */
const b = (iso: string, verified = false): RetentionCandidate => ({ id: backupIdOf(new Date(iso)), verified });
const id = (iso: string) => backupIdOf(new Date(iso));
/** One backup a day at 01:00 from `start`, `days` of them; the newest verified. */
function nightly(start: string, days: number): RetentionCandidate[] {
  const t0 = Date.parse(`${start}T01:00:00Z`);
  return Array.from({ length: days }, (_, i) => ({
    id: backupIdOf(new Date(t0 + i * 86_400_000)),
    verified: i === days - 1,
  }));
}
const reasonsOf = (plan: ReturnType<typeof planRetention>, backupId: string) =>
  plan.keep.find((k) => k.id === backupId)?.reasons ?? [];

test('backup ids: round trip, and ids that are not times are refused', () => {
  assert.is(backupIdOf(new Date('2026-12-06T01:00:00.123Z')), '20261206T010000Z');
  assert.equal(backupIdTime('20261206T010000Z'), new Date('2026-12-06T01:00:00Z'));
  for (const bad of [
    '20260230T010000Z',
    '20261306T010000Z',
    '20261206T250000Z',
    '20261206T016000Z',
    '20261206T010000',
    '2026-12-06T01:00:00Z',
    '',
    '20261206t010000z',
  ]) {
    assert.is(backupIdTime(bad), undefined, bad);
  }
  assert.ok(backupIdTime('20240229T000000Z'), 'a leap day is a day');
});

test('ISO weeks: Monday to Sunday in UTC, and the week-year across New Year', () => {
  assert.is(isoWeek(new Date('2026-12-06T23:59:59Z')), '2026-W49'); // Sunday
  assert.is(isoWeek(new Date('2026-12-07T00:00:00Z')), '2026-W50'); // Monday
  // 2026 starts on a Thursday: 53 weeks, the last running into 2027.
  assert.is(isoWeek(new Date('2026-12-31T12:00:00Z')), '2026-W53');
  assert.is(isoWeek(new Date('2027-01-03T12:00:00Z')), '2026-W53');
  assert.is(isoWeek(new Date('2027-01-04T00:00:00Z')), '2027-W01');
  // And the other way: 2024-12-30 (a Monday) is in 2025's first week.
  assert.is(isoWeek(new Date('2024-12-29T23:00:00Z')), '2024-W52');
  assert.is(isoWeek(new Date('2024-12-30T00:00:00Z')), '2025-W01');
  assert.is(isoWeek(new Date('2021-01-03T00:00:00Z')), '2020-W53');
});

test('retention: nothing to plan for no backups', () => {
  assert.equal(planRetention([], { daily: 7, weekly: 4, monthly: 12 }), {
    keep: [],
    prune: [],
    noVerifiedBackup: false,
  });
});

test('retention: daily keeps the newest backup of each of the N most recent days, and no more', () => {
  const plan = planRetention(nightly('2026-11-01', 20), { daily: 7, weekly: 0, monthly: 0 });
  assert.equal(
    plan.keep.map((k) => k.id),
    nightly('2026-11-14', 7)
      .map((c) => c.id)
      .reverse(),
  );
  assert.is(plan.prune.length, 13);
  assert.equal(reasonsOf(plan, id('2026-11-20T01:00:00Z')), ['newest verified', 'daily 2026-11-20']);
  assert.equal(reasonsOf(plan, id('2026-11-14T01:00:00Z')), ['daily 2026-11-14']);
});

test('retention: several backups a day keep only the newest of the day (ties broken by time, to the second)', () => {
  const day = [
    b('2026-12-06T01:00:00Z'),
    b('2026-12-06T13:00:00Z'),
    b('2026-12-06T13:00:01Z', true),
    b('2026-12-05T23:59:59Z'),
    b('2026-12-05T00:00:00Z'),
  ];
  const plan = planRetention(day, { daily: 2, weekly: 0, monthly: 0 });
  assert.equal(
    plan.keep.map((k) => k.id),
    [id('2026-12-06T13:00:01Z'), id('2026-12-05T23:59:59Z')],
  );
  assert.equal(plan.prune, [id('2026-12-06T13:00:00Z'), id('2026-12-06T01:00:00Z'), id('2026-12-05T00:00:00Z')]);
});

test('retention: a gap of days without backups does not use up the daily count', () => {
  const withGap = [
    b('2026-12-06T01:00:00Z', true),
    b('2026-12-02T01:00:00Z'),
    b('2026-11-20T01:00:00Z'),
    b('2026-11-19T01:00:00Z'),
  ];
  const plan = planRetention(withGap, { daily: 3, weekly: 0, monthly: 0 });
  assert.equal(
    plan.keep.map((k) => k.id),
    [id('2026-12-06T01:00:00Z'), id('2026-12-02T01:00:00Z'), id('2026-11-20T01:00:00Z')],
  );
  assert.equal(plan.prune, [id('2026-11-19T01:00:00Z')]);
});

test('retention: days are UTC days (23:59:59 and 00:00:00 are two days)', () => {
  const plan = planRetention([b('2026-12-07T00:00:00Z', true), b('2026-12-06T23:59:59Z')], {
    daily: 2,
    weekly: 0,
    monthly: 0,
  });
  assert.equal(plan.prune, []);
  assert.equal(reasonsOf(plan, id('2026-12-06T23:59:59Z')), ['daily 2026-12-06']);
});

test('retention: monthly across a year boundary keeps the newest of each month', () => {
  const backups = [
    b('2027-01-02T01:00:00Z', true),
    b('2027-01-01T01:00:00Z'),
    b('2026-12-31T01:00:00Z'),
    b('2026-12-01T01:00:00Z'),
    b('2026-11-30T01:00:00Z'),
    b('2026-10-15T01:00:00Z'),
  ];
  const plan = planRetention(backups, { daily: 0, weekly: 0, monthly: 3 });
  assert.equal(
    plan.keep.map((k) => [k.id, k.reasons]),
    [
      [id('2027-01-02T01:00:00Z'), ['newest verified', 'monthly 2027-01']],
      [id('2026-12-31T01:00:00Z'), ['monthly 2026-12']],
      [id('2026-11-30T01:00:00Z'), ['monthly 2026-11']],
    ],
  );
  assert.equal(plan.prune, [id('2027-01-01T01:00:00Z'), id('2026-12-01T01:00:00Z'), id('2026-10-15T01:00:00Z')]);
});

test('retention: weekly buckets follow ISO weeks over New Year (2026-W53 runs to 3 January 2027)', () => {
  const backups = [
    b('2027-01-04T01:00:00Z', true),
    b('2027-01-03T01:00:00Z'),
    b('2027-01-01T01:00:00Z'),
    b('2026-12-28T01:00:00Z'),
    b('2026-12-27T01:00:00Z'),
  ];
  const plan = planRetention(backups, { daily: 0, weekly: 3, monthly: 0 });
  assert.equal(
    plan.keep.map((k) => [k.id, k.reasons]),
    [
      [id('2027-01-04T01:00:00Z'), ['newest verified', 'weekly 2027-W01']],
      [id('2027-01-03T01:00:00Z'), ['weekly 2026-W53']],
      [id('2026-12-27T01:00:00Z'), ['weekly 2026-W52']],
    ],
  );
  assert.equal(plan.prune, [id('2027-01-01T01:00:00Z'), id('2026-12-28T01:00:00Z')]);
});

test('retention: the rules are joined (a backup kept by one rule is kept), with the defaults over a year of nightly backups', () => {
  const year = nightly('2026-01-01', 365); // 2026-01-01 … 2026-12-31
  const plan = planRetention(year, { daily: 7, weekly: 4, monthly: 12 });
  const kept = new Set(plan.keep.map((k) => k.id));
  // 7 days (25–31 Dec), weeks W53 (28–31, kept by daily), W52 (27 Dec, daily), W51 (20 Dec), W50 (13 Dec),
  // and the last day of each month (31 Dec by daily, and 11 more).
  assert.ok(kept.has(id('2026-12-20T01:00:00Z')) && kept.has(id('2026-12-13T01:00:00Z')));
  for (const m of ['01-31', '02-28', '03-31', '04-30', '05-31', '06-30', '07-31', '08-31', '09-30', '10-31', '11-30'])
    assert.ok(kept.has(id(`2026-${m}T01:00:00Z`)), m);
  assert.is(kept.size, 7 + 2 + 11);
  assert.is(plan.keep.length + plan.prune.length, 365);
});

test('retention: the newest verified backup is kept even when no rule would keep it', () => {
  const backups = [
    b('2026-12-06T01:00:00Z'),
    b('2026-12-05T01:00:00Z'),
    b('2026-11-01T01:00:00Z', true),
    b('2026-10-01T01:00:00Z', true),
  ];
  const plan = planRetention(backups, { daily: 2, weekly: 0, monthly: 0 });
  assert.equal(
    plan.keep.map((k) => k.id),
    [id('2026-12-06T01:00:00Z'), id('2026-12-05T01:00:00Z'), id('2026-11-01T01:00:00Z')],
  );
  assert.equal(plan.prune, [id('2026-10-01T01:00:00Z')], 'an older verified backup may go');
  // With every rule off, only it stays.
  assert.equal(
    planRetention(backups, { daily: 0, weekly: 0, monthly: 0 }).keep.map((k) => k.id),
    [id('2026-11-01T01:00:00Z')],
  );
});

test('retention: with no verified backup nothing is pruned, and the plan says why', () => {
  const plan = planRetention(
    nightly('2026-11-01', 30).map((c) => ({ ...c, verified: false })),
    { daily: 1, weekly: 0, monthly: 0 },
  );
  assert.equal(plan.prune, []);
  assert.is(plan.keep.length, 30);
  assert.ok(plan.noVerifiedBackup);
  assert.equal(plan.keep[0]!.reasons, ['no verified backup']);
});

test('retention: ids that are not backup times are kept, duplicates count once, input order does not matter', () => {
  const backups = [
    b('2026-12-05T01:00:00Z'),
    { id: 'not-a-backup', verified: false },
    b('2026-12-06T01:00:00Z', true),
    b('2026-12-05T01:00:00Z'),
    { id: '20261340T000000Z', verified: true },
  ];
  const plan = planRetention(backups, { daily: 1, weekly: 0, monthly: 0 });
  assert.equal(plan.prune, [id('2026-12-05T01:00:00Z')]);
  assert.equal(reasonsOf(plan, 'not-a-backup'), ['unparsed id']);
  assert.equal(
    reasonsOf(plan, '20261340T000000Z'),
    ['unparsed id'],
    'an unparsed id is not taken as the newest verified',
  );
  assert.equal(planRetention([...backups].reverse(), { daily: 1, weekly: 0, monthly: 0 }), plan);
  // A duplicate that is verified once is verified.
  const dup = planRetention([b('2026-12-06T01:00:00Z'), b('2026-12-04T01:00:00Z'), b('2026-12-04T01:00:00Z', true)], {
    daily: 0,
    weekly: 0,
    monthly: 0,
  });
  assert.equal(
    dup.keep.map((k) => k.id),
    [id('2026-12-04T01:00:00Z')],
  );
});

/** A small seeded PRNG (mulberry32), so a failing case can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('retention: invariants over random histories (partition, bounds per rule, newest verified kept)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const n = Math.floor(r() * 60);
    const start = Date.parse('2025-11-15T00:00:00Z');
    const backups = Array.from({ length: n }, () => ({
      id: backupIdOf(new Date(start + Math.floor(r() * 500 * 86_400_000))),
      verified: r() < 0.2,
    }));
    const policy = { daily: Math.floor(r() * 10), weekly: Math.floor(r() * 6), monthly: Math.floor(r() * 14) };
    const plan = planRetention(backups, policy);
    const unique = new Set(backups.map((x) => x.id));
    const kept = plan.keep.map((k) => k.id);
    assert.is(kept.length + plan.prune.length, unique.size, `seed ${seed}: every backup is kept or pruned`);
    assert.ok(
      kept.every((k) => !plan.prune.includes(k)),
      `seed ${seed}: never both`,
    );
    const newestVerified = [...unique]
      .sort()
      .reverse()
      .find((x) => backups.some((c) => c.id === x && c.verified));
    if (newestVerified) {
      assert.ok(kept.includes(newestVerified), `seed ${seed}: newest verified kept`);
      for (const rule of ['daily', 'weekly', 'monthly'] as const) {
        const count = plan.keep.filter((k) => k.reasons.some((x) => x.startsWith(`${rule} `))).length;
        assert.ok(count <= policy[rule], `seed ${seed}: ${rule} keeps at most ${policy[rule]} (${count})`);
      }
      assert.ok(
        kept.length <= policy.daily + policy.weekly + policy.monthly + 1,
        `seed ${seed}: no more than the rules allow`,
      );
      // The newest backup of all is kept whenever any rule is on.
      if (policy.daily + policy.weekly + policy.monthly > 0)
        assert.ok(kept.includes([...unique].sort().at(-1)!), `seed ${seed}: newest kept`);
    } else if (unique.size > 0) {
      assert.equal(plan.prune, [], `seed ${seed}: nothing pruned without a verified backup`);
    }
  }
});

test.run();
