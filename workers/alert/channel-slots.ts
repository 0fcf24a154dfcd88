/**
 * Per-channel semaphore, one per worker process: at most `perChannelConcurrency` sends
 * in flight to one channel, waiters served in order. Shared by the inline send in the
 * alert job and the queued `deliver` jobs, so both together respect the one limit.
 */
import { alertDeliveryPolicy } from '../../lib/contracts/alert-delivery.js';

interface Slot {
  busy: number;
  /** Each waiter is handed a slot (busy stays as it is) by the release that frees it. */
  waiting: Array<() => void>;
}

const slots = new Map<string, Slot>();

function release(channelId: string, s: Slot): void {
  const next = s.waiting.shift();
  // Hand the slot straight to the next waiter; free it only when nobody waits.
  if (next) next();
  else if (--s.busy === 0) slots.delete(channelId);
}

/**
 * Take a slot, waiting in line when all are busy; with `waitMs`, give up after that
 * long (return undefined) instead of waiting as long as it takes. Returns the release.
 */
export async function acquireChannelSlot(channelId: string, options: { waitMs?: number } = {}): Promise<(() => void) | undefined> {
  let slot = slots.get(channelId);
  if (!slot) slots.set(channelId, (slot = { busy: 0, waiting: [] }));
  const s = slot;
  if (s.busy < alertDeliveryPolicy.perChannelConcurrency) s.busy++;
  else if (!(await waitInLine(s, options.waitMs))) return undefined;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release(channelId, s);
  };
}

/** Resolves true once a slot was handed over, false when waitMs passed first. */
function waitInLine(s: Slot, waitMs?: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const take = () => {
      if (timer) clearTimeout(timer);
      resolve(true);
    };
    s.waiting.push(take);
    if (waitMs === undefined) return;
    timer = setTimeout(() => {
      // Leave the line; a slot handed over later goes to the next waiter instead.
      const i = s.waiting.indexOf(take);
      if (i >= 0) s.waiting.splice(i, 1);
      resolve(false);
    }, waitMs);
  });
}

/**
 * Run fn with a slot of the channel (waiting for one as long as it takes). fn gets the
 * release so it can free the slot as soon as its send is done; it is freed anyway
 * when fn ends, however it ends.
 */
export async function withChannelSlotRelease<T>(channelId: string, fn: (release: () => void) => Promise<T>): Promise<T> {
  const release = (await acquireChannelSlot(channelId))!;
  try {
    return await fn(release);
  } finally {
    release();
  }
}
