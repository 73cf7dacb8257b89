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

/**
 * Yields the results of `tasks` in task order while up to `ahead` of them run (or wait,
 * finished, to be taken): a reader of many objects pays their latency once per `ahead`
 * instead of once per object, and holds at most `ahead` results. A task that rejects
 * rejects the iteration when its turn comes; tasks already started then still settle,
 * their results dropped. Breaking off the iteration starts no further task.
 */
export async function* inOrderAhead<T>(
  tasks: Iterable<() => Promise<T>>,
  ahead: number,
): AsyncGenerator<T, void, undefined> {
  if (!Number.isInteger(ahead) || ahead < 1)
    throw new RangeError(`ahead must be a positive integer, got ${ahead}`);
  const source = tasks[Symbol.iterator]();
  const running: Promise<T>[] = [];
  let done = false;
  const fill = () => {
    while (!done && running.length < ahead) {
      const next = source.next();
      if (next.done) {
        done = true;
        break;
      }
      const p = Promise.resolve().then(next.value);
      // Handled here so a rejection waiting for its turn is not reported as unhandled;
      // the iteration still throws it when it reaches that task.
      p.catch(() => undefined);
      running.push(p);
    }
  };
  fill();
  while (running.length > 0) {
    const result = await (running.shift() as Promise<T>);
    fill();
    yield result;
  }
}
