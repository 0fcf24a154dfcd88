/** Running store calls a few at a time. */

/**
 * Call `fn` on every item, at most `lanes` at once, in item order per lane. The first
 * error stops the lanes taking new items and is thrown once the running calls end.
 */
export async function eachInParallel<T>(
  items: readonly T[],
  lanes: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const lane = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
  if (failed) throw failed.err;
}
