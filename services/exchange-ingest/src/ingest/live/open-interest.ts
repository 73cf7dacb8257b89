import * as openInterest from '../../feeds/open-interest.js';
import { ingestVenue } from '../../venues/index.js';
import { publishNormalized } from '../collector.js';
import { forEachPaced } from '../gate.js';
import type { LiveContext, LiveLoop } from './context.js';
import { pollPacing, repeatEvery } from './loop.js';

/**
 * Open interest of every symbol by REST, spread over each interval: one `fetchOpenInterest`
 * per symbol, or one `fetchOpenInterests` for all of them where the venue answers every
 * market at once (IngestVenue.openInterestPoll). A value no newer than the last one
 * published is skipped. No checkpoint: the newest event time per symbol is kept in memory.
 */
export class OpenInterestPoll implements LiveLoop {
  private readonly lastOi = new Map<string, number>();

  constructor(private readonly ctx: LiveContext) {}

  run(signal: AbortSignal): Promise<void> {
    return repeatEvery(this.ctx, 'open_interest', this.ctx.options.oiPollMs, signal, () =>
      ingestVenue(this.ctx.deps.exchange).openInterestPoll === 'all-symbols'
        ? this.pollAll(signal)
        : this.poll(signal),
    );
  }

  private async poll(signal: AbortSignal): Promise<void> {
    const { ex, exchange, symbols } = this.ctx.deps;
    await forEachPaced(symbols, pollPacing(this.ctx, this.ctx.options.oiPollMs, signal), async (symbol) => {
      try {
        const oi = await this.ctx.call(openInterest.CURRENT_METHOD, signal, () =>
          openInterest.fetchCurrent(ex, exchange, symbol),
        );
        await this.publish(symbol, oi, this.ctx.deps.now(), this.answerTime());
      } catch (err) {
        this.ctx.onPollError('open_interest', symbol, err);
      }
    });
  }

  private async pollAll(signal: AbortSignal): Promise<void> {
    const { ex, exchange, symbols } = this.ctx.deps;
    let all: Record<string, Record<string, unknown>>;
    let answeredAtMs: number | undefined;
    try {
      all = await this.ctx.call(openInterest.CURRENT_ALL_METHOD, signal, () =>
        openInterest.fetchAllCurrent(ex, exchange, symbols),
      );
      // Read at once: ccxt keeps only the last answer's headers.
      answeredAtMs = this.answerTime();
    } catch (err) {
      this.ctx.onPollError('open_interest', `${symbols.length} symbols`, err);
      return;
    }
    const receivedAtMs = this.ctx.deps.now();
    for (const symbol of symbols) {
      const oi = all[symbol];
      if (oi === undefined) continue; // not in this answer (delisted since start-up): the next poll asks again
      try {
        await this.publish(symbol, oi, receivedAtMs, answeredAtMs);
      } catch (err) {
        this.ctx.onPollError('open_interest', symbol, err);
      }
    }
  }

  /** The venue's answer time where ccxt gives the value none (Hyperliquid: the HTTP Date header). */
  private answerTime(): number | undefined {
    return ingestVenue(this.ctx.deps.exchange).answerTimeMs?.(this.ctx.deps.ex);
  }

  private async publish(
    symbol: string,
    oi: Record<string, unknown>,
    receivedAtMs: number,
    answeredAtMs: number | undefined,
  ): Promise<void> {
    const { exchange } = this.ctx.deps;
    if (typeof oi.timestamp !== 'number' && answeredAtMs !== undefined) oi.timestamp = answeredAtMs;
    const t = typeof oi.timestamp === 'number' ? oi.timestamp : null;
    if (t !== null && t <= (this.lastOi.get(symbol) ?? -1)) return;
    const items = openInterest.normalize([oi], { exchange, symbol, receivedAtMs, source: 'live' });
    await publishNormalized(
      this.ctx.publisher(),
      { exchange, feed: 'open_interest', origin: 'fetchOpenInterest', source: 'live' },
      items,
    );
    if (t !== null) this.lastOi.set(symbol, t);
  }
}
