/**
 * What an API key's use leaves behind: its last-used time, written in batches, and an
 * `apikey:used` audit entry for every clock hour (UTC) in which the key was used, so
 * the audit log says when each key was in use without an entry per request.
 *
 * The entry's eventId is made of the key and the hour. A flush that failed and runs
 * again, or another API process flushing the same key in the same hour, writes the
 * same eventId: the audit writer stores it once (docs/jobs/audit-write.md,
 * *Idempotency*). The entries are enqueued before the last-used times move, so a
 * failure in between costs a retry, never an hour left unaudited.
 */
import type { PrismaClient } from '../lib/clients/prisma.js';
import type { AuditEntryInput } from '../lib/contracts/audit.js';

export interface UsedKey {
  id: string;
  tenantId: string;
  displayPrefix: string;
  name: string;
}

export interface KeyUseRecorder {
  /** Note one authenticated request with `key` at `at`. */
  used(key: UsedKey, at: Date): void;
  /** Write what was noted (also runs every `intervalMs`). A failure keeps it for the next flush and rejects. */
  flush(): Promise<void>;
  /** Stop the timer and flush once more. */
  close(): Promise<void>;
}

export interface KeyUseOptions {
  /** Enqueues audit entries (the API's producer). */
  writeAudit: (entry: AuditEntryInput) => Promise<unknown>;
  /** Told when a timed flush fails (the uses are kept and tried again). Default: nothing. */
  onError?: (err: unknown) => void;
  /** How often pending uses are written. Default: 5000 ms. */
  intervalMs?: number;
}

interface Pending {
  key: UsedKey;
  /** The first use in each hour since the last flush (a flush can span two hours). */
  firstInHour: Map<number, Date>;
  last: Date;
}

const HOUR_MS = 3_600_000;
const hourOf = (d: Date) => Math.floor(d.getTime() / HOUR_MS);
/** `2026112704` for 04:xx UTC on 2026-11-27: the hour in an eventId. */
const hourLabel = (hour: number) => new Date(hour * HOUR_MS).toISOString().slice(0, 13).replace(/[-T]/g, '');

export function usedEntry(key: UsedKey, firstUseInHour: Date): AuditEntryInput & { eventId: string } {
  const hour = hourOf(firstUseInHour);
  return {
    tenantId: key.tenantId,
    eventId: `apikey-used:${key.id}:${hourLabel(hour)}`,
    occurredAt: firstUseInHour.toISOString(),
    actorType: 'service',
    actorId: key.displayPrefix,
    action: 'apikey:used',
    resourceType: 'api_key',
    resourceId: key.id,
    metadata: { name: key.name, display_prefix: key.displayPrefix, hour: new Date(hour * HOUR_MS).toISOString() },
  };
}

export function createKeyUseRecorder(prisma: PrismaClient, options: KeyUseOptions): KeyUseRecorder {
  let pending = new Map<string, Pending>();

  function note(key: UsedKey, at: Date): void {
    const seen = pending.get(key.id);
    if (!seen) {
      pending.set(key.id, { key, firstInHour: new Map([[hourOf(at), at]]), last: at });
      return;
    }
    const first = seen.firstInHour.get(hourOf(at));
    if (!first || at < first) seen.firstInHour.set(hourOf(at), at);
    if (at > seen.last) seen.last = at;
  }

  async function flush(): Promise<void> {
    if (pending.size === 0) return;
    const batch = [...pending.values()];
    pending = new Map();
    try {
      const ids = batch.map((p) => p.key.id);
      const before = await prisma.$queryRawUnsafe<Array<{ id: string; last_used_at: Date | null }>>(
        'SELECT id::text AS id, last_used_at FROM api_keys WHERE id = ANY($1::uuid[])',
        ids,
      );
      const previous = new Map(before.map((r) => [r.id, r.last_used_at]));
      const entries: AuditEntryInput[] = [];
      for (const p of batch) {
        // A key deleted meanwhile has no row to update and no use to report.
        if (!previous.has(p.key.id)) continue;
        const prev = previous.get(p.key.id);
        // An hour the stored time already reached was audited by whoever moved it there.
        const auditedUpTo = prev ? hourOf(prev) : -Infinity;
        for (const [hour, first] of p.firstInHour) if (hour > auditedUpTo) entries.push(usedEntry(p.key, first));
      }
      await Promise.all(entries.map((e) => options.writeAudit(e)));
      await prisma.$executeRawUnsafe(
        `UPDATE api_keys k SET last_used_at = GREATEST(coalesce(k.last_used_at, v.t), v.t)
           FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, t) WHERE k.id = v.id`,
        ids,
        batch.map((p) => p.last.toISOString()),
      );
    } catch (err) {
      // Kept for the next flush: the same hours give the same eventIds, so nothing doubles.
      for (const p of batch) {
        for (const first of p.firstInHour.values()) note(p.key, first);
        note(p.key, p.last);
      }
      throw err;
    }
  }

  const timer = setInterval(() => void flush().catch((err: unknown) => options.onError?.(err)), options.intervalMs ?? 5000);
  timer.unref();

  return {
    used(key, at) {
      note(key, at);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush().catch((err: unknown) => options.onError?.(err));
    },
  };
}
