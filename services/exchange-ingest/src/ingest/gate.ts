import { RateLimited } from '@perpflow/contracts';
import { sleep } from '@perpflow/runtime';

/**
 * One gate per exchange: a 429/418 closes it until the Retry-After the exchange
 * asked for has passed, so no loop keeps hammering (which escalates a 429 to a ban).
 */
export class RateGate {
  private closedUntilMs = 0;
  constructor(private readonly now: () => number = Date.now) {}

  async pass(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.closedUntilMs - this.now();
      if (wait <= 0) return;
      await sleep(wait, signal);
    }
  }

  /** Closes the gate when the error is a rate limit. Returns true if it did. */
  onError(err: unknown): boolean {
    if (!(err instanceof RateLimited)) return false;
    this.closedUntilMs = Math.max(this.closedUntilMs, this.now() + (err.retryAfterMs ?? 60_000));
    return true;
  }

  get pausedUntilMs(): number {
    return this.closedUntilMs;
  }
}

/** Runs fn over items with at most `limit` in flight; collects no results, never rejects. */
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
