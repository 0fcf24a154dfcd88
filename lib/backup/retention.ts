/**
 * Backup retention: which backups to keep. A pure function of the backup ids (their
 * UTC times, `YYYYMMDDTHHMMSSZ`), the policy and which backups are known to restore,
 * so every edge (month and year boundaries, gaps, several backups a day) is a unit
 * test rather than a night of waiting.
 *
 * The rules are those of restic's `forget --keep-daily/weekly/monthly`, applied side by
 * side and their results joined: `daily: 7` keeps the newest backup of each of the 7
 * most recent UTC days that HAVE a backup (a gap of three days without one does not use
 * up three of the seven), `weekly` the same per ISO week (Monday to Sunday, UTC),
 * `monthly` per calendar month (UTC). One backup may be kept by several rules.
 *
 * Whatever the policy says, the newest verified backup is kept: pruning must never
 * leave an operator with only backups nobody has shown to restore. When no backup is
 * verified, nothing is pruned at all (see `noVerifiedBackup`), for the same reason.
 */

/** How many daily, weekly and monthly backups to keep (BACKUP_KEEP_*); 0 turns a rule off. */
export interface RetentionPolicy {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

export interface RetentionCandidate {
  /** The backup id: its UTC time, `YYYYMMDDTHHMMSSZ`. */
  readonly id: string;
  /** Whether this backup has been shown to restore (a verify or a drill passed). */
  readonly verified: boolean;
}

/** Why a backup is kept: `daily 2026-12-06`, `weekly 2026-W49`, `monthly 2026-12`, `newest verified`, or `unparsed id`. */
export type KeepReason = string;

export interface RetentionPlan {
  /** Backups to keep, newest first, each with the rules that keep it. */
  readonly keep: ReadonlyArray<{ id: string; reasons: KeepReason[] }>;
  /** Backups to delete, newest first. */
  readonly prune: readonly string[];
  /** Set when nothing is pruned because no backup is verified (policy not applied). */
  readonly noVerifiedBackup: boolean;
}

export const BACKUP_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** The UTC time a backup id names, or undefined when it is not a valid one (month 13, 25 o'clock, Feb 30). */
export function backupIdTime(id: string): Date | undefined {
  const m = BACKUP_ID.exec(id);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls over (Feb 30 → Mar 2): an id that does not round-trip is not a time.
  const same =
    t.getUTCFullYear() === y &&
    t.getUTCMonth() === mo - 1 &&
    t.getUTCDate() === d &&
    t.getUTCHours() === h &&
    t.getUTCMinutes() === mi &&
    t.getUTCSeconds() === s;
  return same ? t : undefined;
}

/** The backup id of an instant (its UTC time to the second). */
export function backupIdOf(t: Date): string {
  return t
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** ISO 8601 week of a UTC instant, as `YYYY-Www` (the year is the week's, which may differ from the date's near New Year). */
export function isoWeek(t: Date): string {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const weekday = d.getUTCDay() || 7; // Monday 1 … Sunday 7
  d.setUTCDate(d.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${pad(week)}`;
}

const BUCKETS = {
  daily: (t: Date) => `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`,
  weekly: isoWeek,
  monthly: (t: Date) => `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}`,
} as const;

/**
 * Choose the backups to keep and to prune. Ids that are not valid backup times are kept
 * (and say so): retention deletes only what it understands. Duplicate ids count once.
 */
export function planRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionPlan {
  const byId = new Map<string, boolean>();
  for (const c of candidates) byId.set(c.id, (byId.get(c.id) ?? false) || c.verified);
  // Ids sort as their times (fixed-width UTC digits): newest first.
  const ids = [...byId.keys()].sort().reverse();
  const reasons = new Map<string, KeepReason[]>(ids.map((id) => [id, []]));
  const keepFor = (id: string, reason: KeepReason) => reasons.get(id)!.push(reason);

  const timed: Array<{ id: string; t: Date }> = [];
  for (const id of ids) {
    const t = backupIdTime(id);
    if (t) timed.push({ id, t });
    else keepFor(id, 'unparsed id');
  }
  const newestVerified = timed.find(({ id }) => byId.get(id));
  if (!newestVerified) {
    for (const { id } of timed) keepFor(id, 'no verified backup');
  } else {
    keepFor(newestVerified.id, 'newest verified');
    for (const rule of ['daily', 'weekly', 'monthly'] as const) {
      const seen = new Set<string>();
      for (const { id, t } of timed) {
        if (seen.size >= policy[rule]) break;
        const bucket = BUCKETS[rule](t);
        if (seen.has(bucket)) continue; // an older backup of a bucket already kept
        seen.add(bucket);
        keepFor(id, `${rule} ${bucket}`);
      }
    }
  }
  return {
    keep: ids.filter((id) => reasons.get(id)!.length > 0).map((id) => ({ id, reasons: reasons.get(id)! })),
    prune: ids.filter((id) => reasons.get(id)!.length === 0),
    noVerifiedBackup: !newestVerified && timed.length > 0,
  };
}
