/**
 * Coalescing of audit.write calls: the calls of one event-loop turn share one job, up
 * to AUDIT_MAX_ENTRIES_PER_JOB entries and AUDIT_MAX_JOB_BYTES of JSON. One job per
 * entry costs BullMQ (and Redis) far more than the entry itself; retries stay safe
 * because each entry keeps its own eventId.
 */
import { AUDIT_MAX_ENTRIES_PER_JOB, AUDIT_MAX_JOB_BYTES, type AuditEntry } from '../lib/contracts/audit.js';

/** Size of an entry in a job, as UTF-8 JSON. */
export function jsonBytes(entry: AuditEntry): number {
  return Buffer.byteLength(JSON.stringify(entry));
}

export interface WriteCoalescer<R> {
  /** Add an entry to this turn's job; resolves when that job is enqueued. */
  add(entry: AuditEntry): Promise<R>;
  /** Wait for the job being gathered, if any (its failure is the callers' to see). */
  flush(): Promise<void>;
}

export function createWriteCoalescer<R>(enqueue: (entries: AuditEntry[]) => Promise<R>): WriteCoalescer<R> {
  let pending: { entries: AuditEntry[]; bytes: number; done: Promise<R> } | undefined;
  return {
    add(entry) {
      const bytes = jsonBytes(entry);
      if (!pending || pending.entries.length >= AUDIT_MAX_ENTRIES_PER_JOB || pending.bytes + bytes > AUDIT_MAX_JOB_BYTES) {
        const batch: AuditEntry[] = [];
        const done = new Promise<R>((resolve, reject) => {
          setImmediate(() => {
            if (pending?.entries === batch) pending = undefined;
            enqueue(batch).then(resolve, reject);
          });
        });
        pending = { entries: batch, bytes: 0, done };
      }
      pending.entries.push(entry);
      pending.bytes += bytes;
      return pending.done;
    },
    async flush() {
      if (pending) await pending.done.catch(() => undefined);
    },
  };
}
