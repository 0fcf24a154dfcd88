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
  /** Units held right now (for tests and metrics). */
  readonly inUse: number;
  /** Nothing held and nobody waiting. */
  readonly idle: boolean;
}

export function createSemaphore(capacity: number): Semaphore {
  if (!Number.isSafeInteger(capacity) || capacity < 1)
    throw new RangeError(`capacity must be a whole number of at least 1 (got ${capacity})`);
  let inUse = 0;
  const waiting: Array<{ weight: number; grant: () => void }> = [];

  function grantWaiters(): void {
    while (waiting.length > 0 && inUse + waiting[0]!.weight <= capacity) {
      const next = waiting.shift()!;
      inUse += next.weight;
      next.grant();
    }
  }

  function take(weight: number, waitMs?: number): Promise<(() => void) | undefined> {
    if (!Number.isSafeInteger(weight) || weight < 0)
      return Promise.reject(new RangeError(`weight must be a whole number of at least 0 (got ${weight})`));
    const w = Math.min(weight, capacity);
    let released = false;
    const release = () => {
      if (released) return; // a second call must not free units another holder owns
      released = true;
      inUse -= w;
      grantWaiters();
    };
    if (waiting.length === 0 && inUse + w <= capacity) {
      inUse += w;
      return Promise.resolve(release);
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        weight: w,
        grant: () => {
          if (timer) clearTimeout(timer);
          resolve(release);
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
      return inUse;
    },
    get idle() {
      return inUse === 0 && waiting.length === 0;
    },
    acquire: (weight) => take(weight) as Promise<() => void>,
    tryAcquire: (weight, waitMs) => take(weight, waitMs),
  };
}
