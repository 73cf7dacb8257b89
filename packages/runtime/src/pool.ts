/**
 * Runs fn over items with at most `limit` in flight, in item order; collects no results.
 * Rejects as soon as one fn rejects (callers that must go on catch inside fn).
 */
export async function forEachPool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
