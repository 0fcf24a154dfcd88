/**
 * A weighted, first-come-first-served semaphore: `acquire(n)` waits until n units of
 * the capacity are free. A request larger than the capacity is served as the whole
 * capacity (alone), so it cannot wait forever. Waiters are served strictly in order,
 * so a large request is not starved by a stream of small ones.
 */
export interface Semaphore {
  /** Resolves with a release function once `weight` units are held. */
  acquire(weight: number): Promise<() => void>;
  /**
   * Like acquire, but gives up after `waitMs` (resolving undefined) and leaves the line;
   * units freed later go to the next waiter.
   */
  tryAcquire(weight: number, waitMs: number): Promise<(() => void) | undefined>;
  /** Units held right now, the small reserve's included (for tests and metrics). */
  readonly inUse: number;
  /** Nothing held and nobody waiting. */
  readonly idle: boolean;
}

export interface SemaphoreOptions {
  /**
   * Requests of at most this weight may pass a waiting larger one when they fit now, up
   * to a quarter of the capacity in all while that one waits (so it is delayed by a
   * bounded amount, never starved). Audit-write: one tenant's single entry does not wait
   * behind another's prefetched 1,000-entry jobs (docs/decisions/0010). Default: 0 (strict
   * order).
   */
  smallBypass?: number;
  /**
   * Units held apart for requests of at most `smallBypass`, granted from when the
   * capacity itself is taken: above the capacity, so at most capacity + smallReserve are
   * held in all. Without it a small request still waits while large ones keep the
   * capacity full, since every unit they free goes to the next large one in line.
   * Audit-write: one tenant's single entry is not held while another's 1,000-entry jobs
   * fill AUDIT_ENTRIES_IN_FLIGHT. Default: 0.
   */
  smallReserve?: number;
}

export function createSemaphore(capacity: number, options: SemaphoreOptions = {}): Semaphore {
  if (!Number.isSafeInteger(capacity) || capacity < 1)
    throw new RangeError(`capacity must be a whole number of at least 1 (got ${capacity})`);
  let inUse = 0;
  let reserveInUse = 0;
  const waiting: Array<{ weight: number; grant: (fromReserve: boolean) => void }> = [];
  const small = options.smallBypass ?? 0;
  const reserve = small > 0 ? (options.smallReserve ?? 0) : 0;
  if (!Number.isSafeInteger(reserve) || reserve < 0)
    throw new RangeError(`smallReserve must be a whole number of at least 0 (got ${reserve})`);
  const bypassBudget = Math.floor(capacity / 4);
  /** Units granted past the current head of the line while it waits. */
  let bypassed = 0;

  function grantWaiters(): void {
    while (waiting.length > 0 && inUse + waiting[0]!.weight <= capacity) {
      const next = waiting.shift()!;
      inUse += next.weight;
      bypassed = 0;
      next.grant(false);
    }
    if (small <= 0) return;
    for (let i = 1; i < waiting.length && bypassed < bypassBudget; i++) {
      const w = waiting[i]!;
      if (w.weight > small || inUse + w.weight > capacity || bypassed + w.weight > bypassBudget) continue;
      waiting.splice(i--, 1);
      inUse += w.weight;
      bypassed += w.weight;
      w.grant(false);
    }
    for (let i = 0; i < waiting.length && reserveInUse < reserve; i++) {
      const w = waiting[i]!;
      if (w.weight > small || reserveInUse + w.weight > reserve) continue;
      waiting.splice(i--, 1);
      reserveInUse += w.weight;
      w.grant(true);
    }
  }

  function take(weight: number, waitMs?: number): Promise<(() => void) | undefined> {
    if (!Number.isSafeInteger(weight) || weight < 0)
      return Promise.reject(new RangeError(`weight must be a whole number of at least 0 (got ${weight})`));
    const w = Math.min(weight, capacity);
    const releaser = (fromReserve: boolean) => {
      let released = false;
      return () => {
        if (released) return; // a second call must not free units another holder owns
        released = true;
        if (fromReserve) reserveInUse -= w;
        else inUse -= w;
        grantWaiters();
      };
    };
    // A small request may pass those waiting (within the bypass budget) when it fits now.
    const passes = waiting.length === 0 || (w <= small && bypassed + w <= bypassBudget);
    if (inUse + w <= capacity && passes) {
      if (waiting.length > 0) bypassed += w;
      inUse += w;
      return Promise.resolve(releaser(false));
    }
    if (w <= small && reserveInUse + w <= reserve) {
      reserveInUse += w;
      return Promise.resolve(releaser(true));
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        weight: w,
        grant: (fromReserve: boolean) => {
          if (timer) clearTimeout(timer);
          resolve(releaser(fromReserve));
        },
      };
      waiting.push(waiter);
      if (waitMs === undefined) return;
      timer = setTimeout(() => {
        const i = waiting.indexOf(waiter);
        if (i >= 0) waiting.splice(i, 1);
        resolve(undefined);
        // Leaving the head of the line may let the next waiters in.
        grantWaiters();
      }, waitMs);
    });
  }

  return {
    get inUse() {
      return inUse + reserveInUse;
    },
    get idle() {
      return inUse + reserveInUse === 0 && waiting.length === 0;
    },
    acquire: (weight) => take(weight) as Promise<() => void>,
    tryAcquire: (weight, waitMs) => take(weight, waitMs),
  };
}
