/** Time helpers. Bulwark works in UTC everywhere; a Clock is injectable for tests. */

export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** Reject with a TimeoutError naming `what` if `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
