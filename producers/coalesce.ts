/**
 * Coalescing of audit.write calls into shared jobs, as a group commit: the calls of one
 * event-loop turn share one job, and while MAX_IN_FLIGHT jobs are on their way to
 * Redis, new calls keep gathering into the next one. One job per entry costs BullMQ (and
 * Redis) far more than the entry itself, and under load a turn alone holds only one or
 * two calls; waiting for a job in flight lets batches grow with the load, while an idle
 * producer still sends at the end of the turn. A job holds at most
 * AUDIT_MAX_ENTRIES_PER_JOB entries and AUDIT_MAX_JOB_BYTES of JSON, all of one tenant
 * (fair dispatch charges each job to its tenant: docs/decisions/0010). Retries stay safe
 * because each entry keeps its own eventId.
 */
import { AUDIT_MAX_ENTRIES_PER_JOB, AUDIT_MAX_JOB_BYTES, type AuditEntry } from '../lib/contracts/audit.js';

/** Jobs on their way to Redis at once; more calls wait (and gather) for one to return. */
const MAX_IN_FLIGHT = 2;

/** Size of an entry in a job, as UTF-8 JSON. */
export function jsonBytes(entry: AuditEntry): number {
  return Buffer.byteLength(JSON.stringify(entry));
}

export interface WriteCoalescer<R> {
  /** Add an entry to the job being gathered; resolves when that job is enqueued. */
  add(entry: AuditEntry): Promise<R>;
  /** Wait until every job gathered so far is enqueued (failures are the callers' to see). */
  flush(): Promise<void>;
}

interface Batch<R> {
  /** When its first call came (ms): the origin of the job's enqueue deadline, if any. */
  startedAt: number;
  entries: AuditEntry[];
  bytes: number;
  done: Promise<R>;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export function createWriteCoalescer<R>(
  enqueue: (entries: AuditEntry[], startedAt: number) => Promise<R>,
): WriteCoalescer<R> {
  /** The batch being gathered, per tenant. */
  const open = new Map<string, Batch<R>>();
  /** Full batches waiting for a slot, in order. */
  const full: Array<Batch<R>> = [];
  const inFlight = new Set<Promise<unknown>>();
  let scheduled = false;

  function newBatch(): Batch<R> {
    let resolve!: (r: R) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<R>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { startedAt: Date.now(), entries: [], bytes: 0, done, resolve, reject };
  }

  function dispatch(): void {
    while (inFlight.size < MAX_IN_FLIGHT) {
      let batch = full.shift();
      if (!batch) {
        const first = open.entries().next();
        if (first.done) return;
        open.delete(first.value[0]);
        batch = first.value[1];
      }
      const sent = enqueue(batch.entries, batch.startedAt).then(batch.resolve, batch.reject);
      inFlight.add(sent);
      void sent.finally(() => {
        inFlight.delete(sent);
        dispatch();
      });
    }
  }

  return {
    add(entry) {
      const bytes = jsonBytes(entry);
      let batch = open.get(entry.tenantId);
      if (batch && (batch.entries.length >= AUDIT_MAX_ENTRIES_PER_JOB || batch.bytes + bytes > AUDIT_MAX_JOB_BYTES)) {
        full.push(batch);
        batch = undefined;
      }
      if (!batch) open.set(entry.tenantId, (batch = newBatch()));
      batch.entries.push(entry);
      batch.bytes += bytes;
      const { done } = batch;
      // The end of this turn, not at once: the rest of the turn's calls join the batch.
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          dispatch();
        });
      }
      return done;
    },
    async flush() {
      while (open.size > 0 || full.length > 0 || inFlight.size > 0 || scheduled) {
        if (inFlight.size > 0) await Promise.race(inFlight);
        else await new Promise((r) => setImmediate(r));
      }
    },
  };
}
