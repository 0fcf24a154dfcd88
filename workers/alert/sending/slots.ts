/**
 * Per-channel slots, one set per worker process: at most `perChannelConcurrency` sends
 * in flight to one channel, waiters served in order (lib/semaphore.ts, one per channel
 * while it is in use). Shared by the inline send in the alert job and the queued
 * `deliver` jobs, so both together respect the one limit.
 */
import { alertDeliveryPolicy } from '../../../lib/contracts/alert-delivery.js';
import { createSemaphore, type Semaphore } from '../../../lib/semaphore.js';

export interface ChannelSlots {
  /**
   * Take a slot, waiting in line when all are busy; with `waitMs`, give up after that
   * long (return undefined) instead of waiting as long as it takes. Returns the release.
   */
  acquire(channelId: string, options?: { waitMs?: number }): Promise<(() => void) | undefined>;
  /**
   * Run fn with a slot of the channel (waiting for one as long as it takes). fn gets the
   * release so it can free the slot as soon as its send is done; it is freed anyway
   * when fn ends, however it ends.
   */
  withRelease<T>(channelId: string, fn: (release: () => void) => Promise<T>): Promise<T>;
}

/** The slots of one worker process (createAlertDeps makes one set). Default: alertDeliveryPolicy.perChannelConcurrency per channel. */
export function createChannelSlots(perChannel: number = alertDeliveryPolicy.perChannelConcurrency): ChannelSlots {
  const slots = new Map<string, Semaphore>();

  function slotsOf(channelId: string): Semaphore {
    let s = slots.get(channelId);
    if (!s) slots.set(channelId, (s = createSemaphore(perChannel)));
    return s;
  }

  /** A release that also forgets the channel's semaphore once nobody holds or waits for it. */
  function forgetting(channelId: string, s: Semaphore, release: () => void): () => void {
    return () => {
      release();
      if (s.idle && slots.get(channelId) === s) slots.delete(channelId);
    };
  }

  async function acquire(channelId: string, options: { waitMs?: number } = {}): Promise<(() => void) | undefined> {
    const s = slotsOf(channelId);
    const release = options.waitMs === undefined ? await s.acquire(1) : await s.tryAcquire(1, options.waitMs);
    if (!release) {
      if (s.idle && slots.get(channelId) === s) slots.delete(channelId);
      return undefined;
    }
    return forgetting(channelId, s, release);
  }

  return {
    acquire,
    async withRelease(channelId, fn) {
      const release = (await acquire(channelId))!;
      try {
        return await fn(release);
      } finally {
        release();
      }
    },
  };
}
