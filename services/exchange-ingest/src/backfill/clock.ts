import { CLOCK_SYNC_EVERY_MS, ExchangeClock } from '../ingest/live/clock.js';

/**
 * The error a backfill assumes of our clock until the exchange's has been read: a candle
 * counts as closed once our clock is this far past its close (the margin backfills used
 * before they read the exchange's clock).
 */
export const UNREAD_CLOCK_ERROR_MS = 1_000;
/** After a failed read, the next one is tried no sooner than this. */
export const CLOCK_READ_RETRY_MS = 60_000;
/**
 * A candle page reaching later than our clock less this may hold a candle still open at the
 * exchange: the exchange's clock is read (if stale) before it is requested. Clocks further
 * apart than this are not corrected. Older pages are judged by our clock, as before.
 */
export const PRESENT_HORIZON_MS = 3_600_000;

/**
 * One exchange's clock as the backfill jobs of one process share it. It is read (one
 * fetchTime) only when a job's candle page reaches the present, at most once per
 * CLOCK_SYNC_EVERY_MS (whether or not the read replaced the estimate: ExchangeClock keeps
 * a more precise one), one read at a time however many jobs ask. A failed read is logged by
 * the caller and leaves the estimate as it was (until a first read: our clock with
 * UNREAD_CLOCK_ERROR_MS); the next is tried after CLOCK_READ_RETRY_MS.
 */
export class BackfillClock {
  readonly clock: ExchangeClock;
  private reading: Promise<void> | undefined;
  private nextReadMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly localNow: () => number) {
    this.clock = new ExchangeClock(localNow, UNREAD_CLOCK_ERROR_MS);
  }

  /** Reads the exchange's clock with `read` when a read is due; rejects with the read's error. */
  async readIfStale(read: () => Promise<unknown>): Promise<void> {
    if (this.reading) return this.reading;
    if (this.localNow() < this.nextReadMs) return;
    this.reading = (async () => {
      try {
        await this.clock.measure(read);
        this.nextReadMs = this.localNow() + CLOCK_SYNC_EVERY_MS;
      } catch (err) {
        this.nextReadMs = this.localNow() + CLOCK_READ_RETRY_MS;
        throw err;
      }
    })().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }
}
