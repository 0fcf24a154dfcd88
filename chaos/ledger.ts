/**
 * What became of the load: each entry sent is matched, by its marker (`resourceId`),
 * to the rows stored in the private database, once the queue has drained.
 */
import pg from 'pg';
import type { Sent } from './load.js';

export interface Ledger {
  offered: number;
  acknowledged: number;
  stored: number;
  /** Entries stored more than once. */
  duplicated: number;
  /** Acknowledged (2xx) entries not stored. */
  lost: number;
  /** Entries of a request answered with anything but 2xx, or not answered in time, that were stored anyway. */
  refusedStored: number;
  /** Of those, the ones whose request WAS answered (a 4xx/5xx the client could trust and retry). */
  answeredRefusedStored: number;
}

/** Stored rows per marker under `label`. */
async function storedCounts(db: pg.Client, label: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ m: string; n: number }>(
    `SELECT resource_id AS m, count(*)::int AS n FROM audit_log WHERE resource_type = 'chaos' AND resource_id LIKE $1 GROUP BY resource_id`,
    [`${label}.%`],
  );
  return new Map(rows.map((r) => [r.m, r.n]));
}

export async function storedTotal(db: pg.Client, label: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_log WHERE resource_type = 'chaos' AND resource_id LIKE $1`,
    [`${label}.%`],
  );
  return rows[0]?.n ?? 0;
}

export async function reconcile(db: pg.Client, label: string, sent: readonly Sent[]): Promise<Ledger> {
  const stored = await storedCounts(db, label);
  const ledger: Ledger = {
    offered: 0,
    acknowledged: 0,
    stored: 0,
    duplicated: 0,
    lost: 0,
    refusedStored: 0,
    answeredRefusedStored: 0,
  };
  for (const s of sent) {
    const ok = typeof s.status === 'number' && s.status >= 200 && s.status < 300;
    for (const m of s.markers) {
      const n = stored.get(m) ?? 0;
      ledger.offered++;
      if (ok) ledger.acknowledged++;
      if (n > 0) ledger.stored++;
      if (n > 1) ledger.duplicated++;
      if (ok && n === 0) ledger.lost++;
      if (!ok && n > 0) {
        ledger.refusedStored++;
        if (typeof s.status === 'number') ledger.answeredRefusedStored++;
      }
    }
  }
  return ledger;
}
