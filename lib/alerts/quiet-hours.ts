/**
 * Quiet hours in the tenant's own time zone, computed with Intl only (no dependencies).
 *
 * The window is defined by wall-clock readings, and is right across daylight-saving
 * changes because it works with instants, not with minutes of the day:
 *   - a start or end time is "the first instant of that local date at which the clock
 *     reads that time or later"; so a time inside a skipped hour (spring forward) means
 *     the instant of the jump, and a time inside a repeated hour (fall back) means its
 *     first occurrence;
 *   - we are in quiet hours when the latest start at or before `now` is later than the
 *     latest end at or before `now`. A window spanning midnight (22:00–07:00) needs no
 *     special case, and a repeated hour does not reopen a window that already ended.
 * start === end means an empty window (never quiet).
 */

/** Quiet-hours settings as the tenant configures them. */
export interface QuietHours {
  /** Whether quiet hours apply at all. */
  enabled: boolean;
  /** Local time the window opens, 'HH:MM' (24 h). */
  start: string;
  /** Local time the window closes, 'HH:MM' (24 h); may be earlier than start (spans midnight). */
  end: string;
  /** IANA time zone the times are read in, e.g. 'Europe/Berlin'. */
  timezone: string;
}

export interface QuietWindow {
  inQuiet: boolean;
  /** When inQuiet: the next instant the local clock reads `end`. */
  endsAt?: Date;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DAY_MS = 86_400_000;
const WALL = /^(\d+)\/(\d+)\/(\d+),? (\d+):(\d+):(\d+)$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for an unknown zone.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local wall-clock reading of instant `t`, encoded as if it were a UTC timestamp. */
function wallOf(tz: string, t: number): number {
  // format() is about three times cheaper than formatToParts(); en-US gives "M/D/YYYY, HH:MM:SS".
  const m = WALL.exec(formatter(tz).format(t));
  if (!m) throw new Error(`unexpected date format from Intl for ${tz}`);
  const ms = ((t % 1000) + 1000) % 1000;
  return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6])) + ms;
}

/**
 * The first instant whose local reading on the same date is `wall` or later, given the
 * UTC offsets in force around it.
 */
function firstInstantAt(tz: string, wall: number, offsets: ReadonlySet<number>): number {
  const candidates = [...offsets].map((o) => wall - o);
  const exact = candidates.filter((t) => wallOf(tz, t) === wall);
  if (exact.length > 0) return Math.min(...exact);
  // The reading never happens (skipped hour): find the jump by bisection.
  let lo = Math.min(...candidates); // reads earlier than `wall`
  let hi = Math.max(...candidates); // reads later than `wall`
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallOf(tz, mid) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

function parseHHMM(value: string, field: string): number {
  const m = HHMM.exec(value);
  if (!m) throw new RangeError(`quiet hours ${field} must be HH:MM (got "${value}")`);
  return (Number(m[1]) * 60 + Number(m[2])) * 60_000;
}

/** Throws RangeError unless `timezone` is an IANA zone this runtime knows. */
export function assertTimeZone(timezone: string): void {
  try {
    formatter(timezone);
  } catch {
    throw new RangeError(`unknown time zone "${timezone}"`);
  }
}

/**
 * Whether `now` lies inside the quiet window and, if so, when it ends.
 * Throws RangeError for a malformed time or an unknown time zone.
 */
export function quietWindow(now: Date, q: QuietHours): QuietWindow {
  const startOffset = parseHHMM(q.start, 'start');
  const endOffset = parseHHMM(q.end, 'end');
  assertTimeZone(q.timezone);
  if (!q.enabled || startOffset === endOffset) return { inQuiet: false };
  const t = now.getTime();
  if (!Number.isFinite(t)) throw new RangeError('now must be a valid Date');
  const key = `${q.timezone}|${q.start}|${q.end}`;
  let span = spans.get(key);
  if (!span || t < span.from || t >= span.until) {
    span = computeSpan(t, q.timezone, startOffset, endOffset);
    if (spans.size >= 1000) spans.clear();
    spans.set(key, span);
  }
  return span.endsAt === undefined ? { inQuiet: false } : { inQuiet: true, endsAt: new Date(span.endsAt) };
}

/** The answer is the same from the latest start or end at or before `t` until the next one. */
interface Span {
  from: number;
  until: number;
  endsAt?: number;
}
const spans = new Map<string, Span>();

function computeSpan(t: number, tz: string, startOffset: number, endOffset: number): Span {
  const wallNow = wallOf(tz, t);
  const today = wallNow - (((wallNow % DAY_MS) + DAY_MS) % DAY_MS);
  // Every UTC offset in force from two days before to two days after `t`.
  const offsets = new Set([-2, -1, 0, 1, 2].map((d) => t + d * DAY_MS).map((x) => wallOf(tz, x) - x));
  let lastStart = -Infinity;
  let lastEnd = -Infinity;
  let nextStart = Infinity;
  let nextEnd = Infinity;
  // Yesterday's and today's start and end bound the past; today's or tomorrow's come next.
  for (let d = -1; d <= 1; d++) {
    const s = firstInstantAt(tz, today + d * DAY_MS + startOffset, offsets);
    const e = firstInstantAt(tz, today + d * DAY_MS + endOffset, offsets);
    if (s <= t) lastStart = Math.max(lastStart, s);
    else nextStart = Math.min(nextStart, s);
    if (e <= t) lastEnd = Math.max(lastEnd, e);
    else nextEnd = Math.min(nextEnd, e);
  }
  const span: Span = { from: Math.max(lastStart, lastEnd), until: Math.min(nextStart, nextEnd) };
  if (lastStart > lastEnd) span.endsAt = nextEnd;
  return span;
}
