/**
 * The keys the database confirmed lately, for a database outage (issue 15): ingest
 * needs only Redis, so a key the database confirmed within `graceMs` is still accepted
 * while the database cannot be asked. A key found revoked, expired or unknown is
 * forgotten at once, so what the database last said always wins.
 *
 * The bound on revocation (docs/api.md, "Outages"): a revocation is written to the
 * database, so none can be made during the outage; one written just before it is seen
 * within API_KEY_CACHE_MS when the database answers, and otherwise the key keeps working
 * for at most `graceMs` after it was last confirmed.
 */

/** At most this many keys are remembered (the least recently confirmed are dropped). */
const MAX_KEYS = 10_000;

interface Verifiable {
  expiresAt: Date;
  revokedAt: Date | null;
}

/**
 * `keepMs`: how long a confirmation is kept; each recall says how old one it accepts
 * (the outage grace, or the throttle's KNOWN_GOOD_MS).
 */
export function createVerifiedKeys<Row extends Verifiable>(keepMs: number) {
  const rows = new Map<string, { row: Row; at: number }>();
  return {
    /** Note what the database said about `hash` (null: no such key). */
    remember(hash: string, row: Row | null, now: number): void {
      rows.delete(hash);
      // A revocation dated later (a rotated key's overlap) is checked at each use, as always.
      if (keepMs <= 0 || !row || (row.revokedAt && row.revokedAt.getTime() <= now)) return;
      rows.set(hash, { row, at: now });
      if (rows.size > MAX_KEYS) rows.delete(rows.keys().next().value!);
    },
    /** The row last confirmed at most `withinMs` ago (and within `keepMs`), or undefined. */
    recall(hash: string, now: number, withinMs: number): Row | undefined {
      const hit = rows.get(hash);
      return hit && now - hit.at <= Math.min(withinMs, keepMs) ? hit.row : undefined;
    },
  };
}
