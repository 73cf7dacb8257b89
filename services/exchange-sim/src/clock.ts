/**
 * The simulator's clock. Simulated time = startMs + (wall − wall at start) × speed
 * + offsetMs. With speed > 1 simulated time runs faster than the wall clock:
 * event-time pipelines still work, but wall-clock freshness measures nothing.
 */
export interface SimClockOptions {
  /** Simulated time at start. Default: the wall clock at start. */
  startMs?: number;
  /** Simulated milliseconds per wall millisecond. Default 1. */
  speed?: number;
  /** Added to simulated time (may be negative). Default 0. */
  offsetMs?: number;
  /** The wall clock; tests inject one. Default Date.now. */
  wallNow?: () => number;
}

export class SimClock {
  readonly speed: number;
  private readonly wallNow: () => number;
  private readonly wallStart: number;
  private readonly startMs: number;
  private offsetMs: number;

  constructor(options: SimClockOptions = {}) {
    this.wallNow = options.wallNow ?? Date.now;
    this.wallStart = this.wallNow();
    this.startMs = options.startMs ?? this.wallStart;
    this.speed = options.speed ?? 1;
    this.offsetMs = options.offsetMs ?? 0;
  }

  /** Simulated now (ms, integer). */
  now(): number {
    return Math.floor(this.startMs + (this.wallNow() - this.wallStart) * this.speed + this.offsetMs);
  }

  /** Wall now (rate limits and bans run on the wall clock, like the real venues). */
  wall(): number {
    return this.wallNow();
  }

  /** Shifts simulated time (e.g. to jump ahead in a test). */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /**
   * Moves simulated time forward to `ms` (a test's chosen moment). Never back: when time
   * has passed `ms` already (the test computed it a moment ago, on a busy machine), it
   * stays where it is.
   */
  advanceTo(ms: number): void {
    this.advance(Math.max(0, ms - this.now()));
  }

  /**
   * Moves simulated time forward to the nearest middle of a `periodMs` period (an hour, a
   * funding slot): a test that computes "the newest" period then has half a period before
   * a boundary can change it.
   */
  advanceToMiddleOf(periodMs: number): void {
    this.advance((1.5 * periodMs - (this.now() % periodMs)) % periodMs);
  }
}
