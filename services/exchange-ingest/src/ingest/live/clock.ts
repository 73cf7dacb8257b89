import type { LiveContext, LiveLoop } from './context.js';
import { repeatEvery } from './loop.js';

/** How often the offset to the exchange's clock is measured again (one fetchTime round trip). */
export const CLOCK_SYNC_EVERY_MS = 300_000;
/**
 * How far our estimate of the exchange's clock may be off at best: the least margin taken
 * before a candle counts as closed, and the error assumed before the first read.
 */
export const CLOCK_ESTIMATE_MARGIN_MS = 250;
/** A read less precise than the estimate in force replaces it only once that one is this old. */
export const CLOCK_ESTIMATE_STALE_MS = 3 * CLOCK_SYNC_EVERY_MS;

/**
 * The exchange's clock as we best know it: ours plus the offset of the most precise recent
 * read. A server time read between `sentAtMs` and `receivedAtMs` (our clock) was taken
 * somewhere in that interval, so the offset from its midpoint is off by at most half the
 * round trip. That half is kept as the estimate's error: the first read of a run waits
 * behind the first REST round in ccxt's throttle (round trips of 0.3–1.2 s measured against
 * the simulator on an idle machine, i.e. offsets 150–600 ms ahead of a clock equal to ours),
 * and a candle may count as closed only once its close has passed by more than that error.
 */
export class ExchangeClock {
  private offsetMs = 0;
  private errorMs: number;
  private measuredAtMs = Number.NEGATIVE_INFINITY;

  /** `unreadErrorMs`: the error assumed until the first read (our clock taken for the exchange's). */
  constructor(
    private readonly localNow: () => number,
    unreadErrorMs = CLOCK_ESTIMATE_MARGIN_MS,
  ) {
    this.errorMs = unreadErrorMs;
  }

  now(): number {
    return this.localNow() + this.offsetMs;
  }

  /** The latest exchange time that has certainly passed: now() less the estimate's error, at least the margin. */
  passedMs(): number {
    return this.now() - Math.max(CLOCK_ESTIMATE_MARGIN_MS, this.errorMs);
  }

  /**
   * A server time read between `sentAtMs` and `receivedAtMs` (our clock) is taken as of their
   * midpoint. It replaces the estimate in force when it is at least as precise, or when that
   * one is older than CLOCK_ESTIMATE_STALE_MS (clocks drift).
   */
  observe(serverMs: unknown, sentAtMs: number, receivedAtMs: number): void {
    if (typeof serverMs !== 'number' || !Number.isFinite(serverMs)) return;
    const errorMs = Math.max(0, receivedAtMs - sentAtMs) / 2;
    if (errorMs > this.errorMs && receivedAtMs - this.measuredAtMs < CLOCK_ESTIMATE_STALE_MS) return;
    this.offsetMs = Math.round(serverMs - (sentAtMs + receivedAtMs) / 2);
    this.errorMs = errorMs;
    this.measuredAtMs = receivedAtMs;
  }

  /** Reads the server's time with `read`, timed on our clock, and observes it; rejects with the read's error. */
  async measure(read: () => Promise<unknown>): Promise<void> {
    const sentAtMs = this.localNow();
    const serverMs = await read();
    this.observe(serverMs, sentAtMs, this.localNow());
  }
}

/** Re-measures the context's exchange clock every 5 min. */
export class ClockSync implements LiveLoop {
  constructor(private readonly ctx: LiveContext) {}

  run(signal: AbortSignal): Promise<void> {
    return repeatEvery(this.ctx, 'clock', CLOCK_SYNC_EVERY_MS, signal, () => this.sync());
  }

  private sync(): Promise<void> {
    const { ex } = this.ctx.deps;
    return this.ctx.clock.measure(() => this.ctx.call('fetchTime', undefined, () => ex.fetchTime()));
  }
}
