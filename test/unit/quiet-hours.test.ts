import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quietWindow, type QuietHours } from '../../lib/alerts/quiet-hours.js';

const BERLIN = 'Europe/Berlin';
const q = (start: string, end: string, timezone = BERLIN, enabled = true): QuietHours => ({
  enabled,
  start,
  end,
  timezone,
});
const at = (iso: string) => new Date(iso);

function expectQuiet(now: string, window: QuietHours, endsAt: string): void {
  const r = quietWindow(at(now), window);
  assert.ok(r.inQuiet, `${now} should be quiet`);
  assert.is(r.endsAt?.toISOString(), new Date(endsAt).toISOString(), `endsAt for ${now}`);
}

function expectAwake(now: string, window: QuietHours): void {
  assert.equal(quietWindow(at(now), window), { inQuiet: false }, `${now} should not be quiet`);
}

test('quiet hours: disabled or an empty window is never quiet', () => {
  expectAwake('2026-01-15T23:00:00Z', q('22:00', '07:00', BERLIN, false));
  expectAwake('2026-01-15T23:00:00Z', q('22:00', '22:00'));
});

test('quiet hours: a 22:00-07:00 window spans midnight (Berlin winter, UTC+1)', () => {
  const w = q('22:00', '07:00');
  expectAwake('2026-01-15T20:59:59Z', w); // 21:59:59 local
  expectQuiet('2026-01-15T21:00:00Z', w, '2026-01-16T06:00:00Z'); // 22:00 local
  expectQuiet('2026-01-15T23:30:00Z', w, '2026-01-16T06:00:00Z'); // 00:30 local, next day
  expectQuiet('2026-01-16T05:59:59Z', w, '2026-01-16T06:00:00Z');
  expectAwake('2026-01-16T06:00:00Z', w); // 07:00 local
});

test('quiet hours: a window within one day (09:00-17:00)', () => {
  const w = q('09:00', '17:00', 'UTC');
  expectAwake('2026-05-01T08:59:00Z', w);
  expectQuiet('2026-05-01T12:00:00Z', w, '2026-05-01T17:00:00Z');
  expectAwake('2026-05-01T17:00:00Z', w);
});

test('quiet hours: the spring-forward night (2026-03-29, 02:00 -> 03:00) is one hour shorter', () => {
  const w = q('22:00', '07:00');
  expectQuiet('2026-03-28T21:00:00Z', w, '2026-03-29T05:00:00Z'); // 22:00 CET -> 07:00 CEST
  expectQuiet('2026-03-29T00:59:59Z', w, '2026-03-29T05:00:00Z'); // 01:59:59 CET
  expectQuiet('2026-03-29T01:00:00Z', w, '2026-03-29T05:00:00Z'); // 03:00 CEST
  expectAwake('2026-03-29T05:00:00Z', w);
  expectQuiet('2026-03-29T20:00:00Z', w, '2026-03-30T05:00:00Z'); // 22:00 CEST
});

test('quiet hours: the fall-back night (2026-10-25, 03:00 -> 02:00) is one hour longer', () => {
  const w = q('22:00', '07:00');
  expectQuiet('2026-10-24T20:00:00Z', w, '2026-10-25T06:00:00Z'); // 22:00 CEST -> 07:00 CET
  expectQuiet('2026-10-25T00:30:00Z', w, '2026-10-25T06:00:00Z'); // 02:30 CEST
  expectQuiet('2026-10-25T01:30:00Z', w, '2026-10-25T06:00:00Z'); // 02:30 CET
  expectAwake('2026-10-25T06:00:00Z', w);
  expectAwake('2026-10-24T19:59:00Z', w);
});

test('quiet hours: a start inside the skipped hour opens the window at the jump', () => {
  const w = q('02:30', '06:00');
  expectAwake('2026-03-29T00:59:59Z', w); // 01:59:59 CET
  expectQuiet('2026-03-29T01:00:00Z', w, '2026-03-29T04:00:00Z'); // 03:00 CEST
  // An ordinary day: 02:30 CET.
  expectAwake('2026-03-28T01:29:00Z', w);
  expectQuiet('2026-03-28T01:30:00Z', w, '2026-03-28T05:00:00Z');
});

test('quiet hours: an end inside the skipped hour closes the window at the jump', () => {
  const w = q('23:00', '02:30');
  expectQuiet('2026-03-29T00:30:00Z', w, '2026-03-29T01:00:00Z'); // 01:30 CET
  expectAwake('2026-03-29T01:00:00Z', w); // 03:00 CEST
});

test('quiet hours: times inside the repeated hour use its first occurrence and do not reopen', () => {
  const ending = q('01:00', '02:30');
  expectQuiet('2026-10-25T00:15:00Z', ending, '2026-10-25T00:30:00Z'); // 02:15 CEST
  expectAwake('2026-10-25T00:30:00Z', ending); // 02:30 CEST
  expectAwake('2026-10-25T01:15:00Z', ending); // 02:15 CET, second pass: still closed
  const starting = q('02:30', '05:00');
  expectAwake('2026-10-25T00:29:00Z', starting); // 02:29 CEST
  expectQuiet('2026-10-25T00:30:00Z', starting, '2026-10-25T04:00:00Z'); // 02:30 CEST -> 05:00 CET
  expectQuiet('2026-10-25T01:15:00Z', starting, '2026-10-25T04:00:00Z'); // 02:15 CET, still inside
});

test('quiet hours: other zones (New York DST, Kolkata +05:30)', () => {
  // New York springs forward on 2026-03-08 at 02:00 EST -> 03:00 EDT.
  expectQuiet('2026-03-08T04:00:00Z', q('22:00', '07:00', 'America/New_York'), '2026-03-08T11:00:00Z');
  expectQuiet('2026-06-01T17:00:00Z', q('22:00', '07:00', 'Asia/Kolkata'), '2026-06-02T01:30:00Z');
});

test('quiet hours: agree with the local clock at every 17 minutes of 2026 in Berlin', () => {
  const w = q('22:00', '07:00');
  const fmt = new Intl.DateTimeFormat('en-GB', {
    timeZone: BERLIN,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
  });
  for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 17 * 60_000) {
    const local = fmt.format(t);
    const expected = local >= '22:00' || local < '07:00';
    const r = quietWindow(new Date(t), w);
    assert.is(r.inQuiet, expected, `${new Date(t).toISOString()} (${local})`);
    if (r.endsAt) {
      assert.is(fmt.format(r.endsAt), '07:00');
      assert.ok(r.endsAt.getTime() > t && r.endsAt.getTime() - t <= 10 * 3_600_000);
    }
  }
});

test('quiet hours: bad times and unknown zones are RangeErrors', () => {
  assert.throws(
    () => quietWindow(new Date(), q('24:00', '07:00')),
    (e: unknown) => e instanceof RangeError && /start/.test(e.message),
  );
  assert.throws(
    () => quietWindow(new Date(), q('22:00', '7:00')),
    (e: unknown) => e instanceof RangeError && /end/.test(e.message),
  );
  assert.throws(
    () => quietWindow(new Date(), q('22:00', '07:00', 'Mars/Olympus')),
    (e: unknown) => e instanceof RangeError && /Mars/.test(e.message),
  );
});

test.run();
