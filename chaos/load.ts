/**
 * A bounded open-loop load of audit writes over HTTP: requests leave at a fixed rate
 * whatever the answers (a closed loop would slow down with the server and hide a
 * hang), each with a deadline, at most `maxInFlight` at once (beyond that a request is
 * counted as not sent, so a hung server cannot make the harness itself run out of
 * memory). Two tenants; singles and batches; half the requests choose their eventIds.
 * Every entry carries a unique marker as its `resourceId`, so what was stored can be
 * matched to what was sent whether or not the caller chose the eventId.
 */
import { randomUUID } from 'node:crypto';

export interface Sent {
  /** When it left and when it was answered (or gave up), ms since the epoch. */
  t0: number;
  t1: number;
  /** The HTTP status, or `timeout` (no answer within the deadline), or `error` (connection refused or reset). */
  status: number | 'timeout' | 'error';
  error?: string;
  markers: string[];
  target: string;
}

export interface LoadOptions {
  /** Requests per second. */
  rate: number;
  /** Where to send: called per request (round robin over several processes, say). */
  target: () => string;
  /** API keys (audit:write) of the tenants, one per tenant. */
  keys: readonly string[];
  /** Marker prefix of this run and scenario, e.g. `c1a2.sigkill`. */
  label: string;
  /** A request unanswered after this long is given up (`timeout`). */
  deadlineMs: number;
  maxInFlight?: number;
}

export interface RunningLoad {
  readonly sent: Sent[];
  /** Requests not sent because `maxInFlight` were waiting. */
  skipped(): number;
  /** Stop sending and wait for every request in flight. */
  stop(): Promise<Sent[]>;
}

function entry(marker: string, withId: boolean) {
  return {
    ...(withId ? { eventId: `chaos-${randomUUID()}` } : {}),
    actorType: 'user',
    actorId: 'chaos-client',
    action: 'chaos:write',
    resourceType: 'chaos',
    resourceId: marker,
    metadata: { note: 'fault-injection harness' },
  };
}

export function startLoad(options: LoadOptions): RunningLoad {
  const sent: Sent[] = [];
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = options.maxInFlight ?? 2000;
  const started = Date.now();
  let issued = 0;
  let skipped = 0;
  let n = 0;

  function send(i: number): void {
    const batch = i % 10 >= 7; // 30% batches of 2-10 entries
    const count = batch ? 2 + (i % 9) : 1;
    const markers = Array.from({ length: count }, () => `${options.label}.${n++}`);
    const withIds = Math.floor(i / 2) % 2 === 0; // both tenants get both kinds
    const entries = markers.map((m) => entry(m, withIds));
    const target = options.target();
    const record: Sent = { t0: Date.now(), t1: 0, status: 'error', markers, target };
    const p = fetch(`${target}/v1/audit${batch ? '/batch' : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.keys[i % options.keys.length]}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch ? { entries } : entries[0]),
      signal: AbortSignal.timeout(options.deadlineMs),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        record.status = res.status;
      })
      .catch((err: unknown) => {
        const e = err as Error & { cause?: { code?: string } };
        record.status = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timeout' : 'error';
        record.error = e.cause?.code ?? e.message;
      })
      .finally(() => {
        record.t1 = Date.now();
        sent.push(record);
        inFlight.delete(p);
      });
    inFlight.add(p);
  }

  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * options.rate) / 1000);
    while (issued < due) {
      if (inFlight.size >= maxInFlight) skipped++;
      else send(issued);
      issued++;
    }
  }, 5);

  return {
    sent,
    skipped: () => skipped,
    async stop() {
      clearInterval(timer);
      while (inFlight.size) await Promise.allSettled([...inFlight]);
      return sent;
    },
  };
}
