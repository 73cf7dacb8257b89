import type { LiveContext, LiveLoop } from './context.js';
import { repeatEvery } from './loop.js';

/** How often the offset to the exchange's clock is measured again (one fetchTime round trip). */
const CLOCK_SYNC_EVERY_MS = 300_000;
/** How far our estimate of the exchange's clock (a fetchTime round trip, every 5 min) may be off. */
export const CLOCK_ESTIMATE_MARGIN_MS = 250;

/** The exchange's clock as we best know it: ours plus the offset last measured. */
export class ExchangeClock {
  private offsetMs = 0;

  constructor(private readonly localNow: () => number) {}

  now(): number {
    return this.localNow() + this.offsetMs;
  }

  /** A server time read between `sentAtMs` and `receivedAtMs` (our clock) is taken as of their midpoint. */
  observe(serverMs: unknown, sentAtMs: number, receivedAtMs: number): void {
    if (typeof serverMs === 'number' && Number.isFinite(serverMs))
      this.offsetMs = Math.round(serverMs - (sentAtMs + receivedAtMs) / 2);
  }
}

/** Re-measures the context's exchange clock every 5 min. */
export class ClockSync implements LiveLoop {
  constructor(private readonly ctx: LiveContext) {}

  run(signal: AbortSignal): Promise<void> {
    return repeatEvery(this.ctx, 'clock', CLOCK_SYNC_EVERY_MS, signal, () => this.sync());
  }

  private async sync(): Promise<void> {
    const { now, ex } = this.ctx.deps;
    const t0 = now();
    const server = await this.ctx.call('fetchTime', undefined, () => ex.fetchTime());
    const t1 = now();
    this.ctx.clock.observe(server, t0, t1);
  }
}
