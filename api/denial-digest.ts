/**
 * Denials, bounded (issue 15): 2,600 requests with bad keys wrote 2,601 audit entries,
 * 190 a second from one client. Every denial is still accounted for, but per subject
 * (source address group, key display prefix, reason, tenant) and window (a minute):
 * - the first WRITTEN_PER_WINDOW denials of a window are written at once, each with its
 *   request id (`metadata.count` 1): a client's few refused requests are all there;
 * - the rest of the window only count, and when the window closes one more entry says
 *   how many (`metadata.count` n, `metadata.aggregated` true, the last request's id).
 * So a subject costs at most WRITTEN_PER_WINDOW + 1 entries a minute in each process, and
 * a source, whatever keys it rotates through, SOURCE_WRITTEN_PER_WINDOW entries plus the
 * closing counts (one for the source, one per subject it denied more than once), and
 * the counts of a subject's entries add up to its denials. The burst detector
 * (denials.ts) still counts every denial in Redis: the "more than 10 in an hour" alert
 * is unchanged.
 *
 * The per-source throttle is in memory, before authentication: a source address group
 * with SOURCE_DENIAL_LIMIT denials in a window gets 429 for the rest of it, without a
 * key lookup (its refusals are counted like denials, reason `throttled`).
 */
export const DIGEST_WINDOW_MS = 60_000;
export const SOURCE_DENIAL_LIMIT = 30;
/** Denials of one subject written one by one in a window before the rest are only counted. */
export const WRITTEN_PER_WINDOW = 10;
/**
 * Denials of one source address group (and tenant) written one by one in a window, over
 * all its key prefixes and reasons; past it they are counted in one entry per source.
 * Above 2 × WRITTEN_PER_WINDOW + 1 so that one client's flood with one key (unknown,
 * then throttled, and a good key throttled) is still written as the subjects say.
 */
export const SOURCE_WRITTEN_PER_WINDOW = 25;
/** Subjects and sources tracked at most; past it the oldest windows are closed early. */
const MAX_TRACKED = 10_000;

export interface DigestWindow<D> {
  /** The latest denial of the window (its request id, route, address). */
  last: D;
  /** Denials of the window so far, written or not. */
  seen: number;
  /** Denials past the ones written one by one (the count of the closing entry). */
  more: number;
  startedAt: number;
}

export interface DenialDigest<D> {
  /** True when `denial` is to be written now (one of the first of its window); false when it only counts. */
  note(subject: string, denial: D): boolean;
  /** Close windows older than the window length (all with `all`), handing each with more than one denial to `flush`. */
  sweep(all?: boolean): void;
}

export function createDenialDigest<D>(
  flush: (w: DigestWindow<D>) => void,
  clock: () => number = Date.now,
  windowMs = DIGEST_WINDOW_MS,
  written = WRITTEN_PER_WINDOW,
): DenialDigest<D> {
  const windows = new Map<string, DigestWindow<D>>();
  const close = (subject: string, w: DigestWindow<D>) => {
    windows.delete(subject);
    if (w.more > 0) flush(w);
  };
  return {
    note(subject, denial) {
      const now = clock();
      const open = windows.get(subject);
      if (open && now - open.startedAt < windowMs) {
        open.seen += 1;
        if (open.seen <= written) return true;
        open.more += 1;
        open.last = denial;
        return false;
      }
      if (open) close(subject, open);
      if (windows.size >= MAX_TRACKED) {
        const [oldest, w] = windows.entries().next().value!;
        close(oldest, w);
      }
      windows.set(subject, { last: denial, seen: 1, more: 0, startedAt: now });
      return true;
    },
    sweep(all = false) {
      const now = clock();
      for (const [subject, w] of windows) if (all || now - w.startedAt >= windowMs) close(subject, w);
    },
  };
}

/** Denials per source address group and window, in memory; `blocked` before authentication. */
export function createSourceThrottle(
  clock: () => number = Date.now,
  limit = SOURCE_DENIAL_LIMIT,
  windowMs = DIGEST_WINDOW_MS,
) {
  const counts = new Map<string, { n: number; startedAt: number }>();
  return {
    /** Count a denial from `source`. */
    denied(source: string): void {
      const now = clock();
      const c = counts.get(source);
      if (c && now - c.startedAt < windowMs) c.n += 1;
      else {
        counts.delete(source);
        if (counts.size >= MAX_TRACKED) counts.delete(counts.keys().next().value!);
        counts.set(source, { n: 1, startedAt: now });
      }
    },
    /** Milliseconds until `source` may try again, or 0 when it is not throttled. */
    retryAfterMs(source: string): number {
      const c = counts.get(source);
      if (!c) return 0;
      const left = c.startedAt + windowMs - clock();
      if (left <= 0) {
        counts.delete(source);
        return 0;
      }
      return c.n >= limit ? left : 0;
    },
  };
}

export type SourceThrottle = ReturnType<typeof createSourceThrottle>;
