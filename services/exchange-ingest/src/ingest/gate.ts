import { RateLimited } from '@perpflow/contracts';
import { forEachPool, sleep } from '@perpflow/runtime';
import { spreadStarts } from '../domain/request-plan.js';

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

  /**
   * The exchange's own count of the weight used in its current minute window
   * (Binance's X-MBX-USED-WEIGHT-1M). Other clients on the same IP count too,
   * so at `guardShare` of the limit the gate closes until the window rolls over
   * rather than wait for a 429.
   */
  noteUsedWeight(used: number, limitPerMinute: number, guardShare = 0.9): boolean {
    if (!(used >= limitPerMinute * guardShare)) return false;
    const nextWindow = Math.floor(this.now() / 60_000) * 60_000 + 60_000 + 250;
    this.closedUntilMs = Math.max(this.closedUntilMs, nextWindow);
    this.guardTrips++;
    return true;
  }

  /** How often the weight guard closed the gate. */
  guardTrips = 0;

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

/**
 * Runs fn over items spread evenly over `spreadMs` (item i starts no earlier than
 * start + i × spreadMs / n), at most `concurrency` in flight, each after `before`
 * resolves (used to yield to a higher-priority loop). Never rejects.
 */
export async function forEachPaced<T>(
  items: readonly T[],
  o: {
    spreadMs: number;
    concurrency: number;
    now: () => number;
    signal: AbortSignal;
    before?: () => Promise<void>;
  },
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const starts = spreadStarts(items.length, o.now(), o.spreadMs);
  const indices = items.map((_, i) => i);
  await forEachPool(indices, o.concurrency, async (i) => {
    if (o.signal.aborted) return;
    const wait = (starts[i] ?? 0) - o.now();
    if (wait > 0) await sleep(wait, o.signal).catch(() => undefined);
    if (o.signal.aborted) return;
    await o.before?.();
    await fn(items[i] as T);
  });
}
