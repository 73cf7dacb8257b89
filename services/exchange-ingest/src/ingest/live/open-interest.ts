import * as openInterest from '../../feeds/open-interest.js';
import { ingestVenue } from '../../venues/index.js';
import { publishNormalized } from '../collector.js';
import { forEachPaced } from '../gate.js';
import type { LiveContext, LiveLoop } from './context.js';
import { pollPacing, repeatEvery } from './loop.js';

/**
 * Open interest of every symbol by REST (`fetchOpenInterest`), spread over each
 * interval; a value no newer than the last one published is skipped. No checkpoint:
 * the newest event time per symbol is kept in memory.
 */
export class OpenInterestPoll implements LiveLoop {
  private readonly lastOi = new Map<string, number>();

  constructor(private readonly ctx: LiveContext) {}

  run(signal: AbortSignal): Promise<void> {
    return repeatEvery(this.ctx, 'open_interest', this.ctx.options.oiPollMs, signal, () => this.poll(signal));
  }

  private async poll(signal: AbortSignal): Promise<void> {
    const { ex, exchange, symbols } = this.ctx.deps;
    await forEachPaced(symbols, pollPacing(this.ctx, this.ctx.options.oiPollMs, signal), async (symbol) => {
      try {
        const oi = await this.ctx.call(openInterest.CURRENT_METHOD, signal, () =>
          openInterest.fetchCurrent(ex, exchange, symbol),
        );
        const receivedAtMs = this.ctx.deps.now();
        // The venue's answer time where ccxt has none (Hyperliquid: the HTTP Date header).
        const answerTime = ingestVenue(exchange).answerTimeMs;
        if (typeof oi.timestamp !== 'number' && answerTime) oi.timestamp = answerTime(ex);
        const t = typeof oi.timestamp === 'number' ? oi.timestamp : null;
        if (t !== null && t <= (this.lastOi.get(symbol) ?? -1)) return;
        const items = openInterest.normalize([oi], { exchange, symbol, receivedAtMs, source: 'live' });
        await publishNormalized(
          this.ctx.publisher(),
          { exchange, feed: 'open_interest', origin: 'fetchOpenInterest', source: 'live' },
          items,
        );
        if (t !== null) this.lastOi.set(symbol, t);
      } catch (err) {
        this.ctx.onPollError('open_interest', symbol, err);
      }
    });
  }
}
