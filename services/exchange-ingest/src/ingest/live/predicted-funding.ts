import { predictedFundingFromCcxt } from '../../domain/normalize.js';
import { ingestVenue } from '../../venues/index.js';
import { publishNormalized } from '../collector.js';
import type { LiveContext, LiveLoop } from './context.js';
import { repeatEvery } from './loop.js';

/**
 * Predicted funding of every symbol by one bulk `fetchFundingRates` call per interval;
 * a value no newer than the last one published is skipped. No checkpoint: the newest
 * event time per symbol is kept in memory.
 */
export class PredictedFundingPoll implements LiveLoop {
  private readonly lastPredicted = new Map<string, number>();

  constructor(private readonly ctx: LiveContext) {}

  run(signal: AbortSignal): Promise<void> {
    return repeatEvery(this.ctx, 'funding', this.ctx.options.fundingPollMs, signal, () => this.poll(signal));
  }

  private async poll(signal: AbortSignal): Promise<void> {
    const { ex, exchange, symbols } = this.ctx.deps;
    const venue = ingestVenue(exchange);
    await this.ctx.candleRounds.waitForRound();
    const all = await this.ctx.call('fetchFundingRates', signal, () => ex.fetchFundingRates());
    const receivedAtMs = this.ctx.deps.now();
    // The venue's time of the answer where neither ccxt nor the rows have one (Hyperliquid: HTTP Date).
    const answerAtMs = venue.answerTimeMs?.(ex);
    const items = [];
    for (const symbol of symbols) {
      const fr = all[symbol];
      if (!fr) continue;
      // The venue's time of the answer, where ccxt leaves `timestamp` empty (OKX).
      const own = venue.predictedFundingTime ? { ...fr, timestamp: venue.predictedFundingTime(fr) } : fr;
      const answer =
        typeof own.timestamp !== 'number' && answerAtMs !== undefined
          ? { ...own, timestamp: answerAtMs }
          : own;
      const t = typeof answer.timestamp === 'number' ? answer.timestamp : null;
      if (t !== null && t <= (this.lastPredicted.get(symbol) ?? -1)) continue;
      items.push({
        ...predictedFundingFromCcxt(answer, { exchange, symbol, receivedAtMs, source: 'live' }),
        symbol,
      });
      if (t !== null) this.lastPredicted.set(symbol, t);
    }
    await publishNormalized(
      this.ctx.publisher(),
      { exchange, feed: 'funding', origin: 'fetchFundingRates', source: 'live' },
      items,
    );
  }
}
