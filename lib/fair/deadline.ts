/**
 * Deadlines for the calls that store a job, in Redis's clock (docs/api.md, Outages).
 *
 * The HTTP API answers within API_REDIS_TIMEOUT_MS whatever Redis does. A command that
 * Redis runs after the API gave up on it would store a job the client was told was not
 * enqueued (503), so the storing script gets a deadline: half the budget after the call
 * is sent, which leaves the other half for the answer to travel back. Past it, the script
 * stores nothing (fair.lua `expired`), and a late answer can only say "not stored".
 *
 * Redis decides by its own clock (TIME), and this host's clock may differ: each answer
 * carries Redis's time, and the offset kept is the one measured over the quickest
 * round trip of the last half minute (its error is at most half that round trip).
 */

/** How long a measured offset is trusted over a later one with a slower round trip. */
const OFFSET_KEEP_MS = 30_000;

export interface RedisDeadlines {
  /** The Redis-clock deadline for a call sent at `sentAt` (this host's ms). */
  deadlineFor(sentAt: number): number;
  /**
   * Learn from an answer: `redisNow` is Redis's clock when it ran a call sent at
   * `sentAt` and answered at `answeredAt`. Returns true when the offset changed by more
   * than a tenth of the budget (a refusal then came from a clock offset, not from a late
   * run, and the call may be sent again at once).
   */
  observe(sentAt: number, answeredAt: number, redisNow: number): boolean;
}

export function createRedisDeadlines(budgetMs: number, now: () => number = Date.now): RedisDeadlines {
  let offset: number | undefined;
  let bestRtt = Infinity;
  let measuredAt = 0;
  return {
    deadlineFor(sentAt) {
      return Math.round(sentAt + (offset ?? 0) + budgetMs / 2);
    },
    observe(sentAt, answeredAt, redisNow) {
      const rtt = answeredAt - sentAt;
      if (!(rtt <= bestRtt || now() - measuredAt > OFFSET_KEEP_MS)) return false;
      const measured = redisNow - (sentAt + answeredAt) / 2;
      const moved = Math.abs(measured - (offset ?? 0)) > budgetMs / 10;
      offset = measured;
      bestRtt = rtt;
      measuredAt = now();
      return moved;
    },
  };
}

/**
 * An enqueue that Redis ran (or would have run) after its deadline: nothing was stored.
 * The HTTP API answers it 503 (api/unavailable.ts, by the name).
 */
export class EnqueueDeadlineError extends Error {
  override name = 'RedisDeadlineError';
  constructor(budgetMs: number) {
    super(`Redis did not run the enqueue within ${budgetMs / 2} ms of its start; nothing was stored`);
  }
}
