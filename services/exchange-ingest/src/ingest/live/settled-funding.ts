import { checkpointKey } from '../../adapters/checkpoints.js';
import * as settledFunding from '../../feeds/settled-funding.js';
import { publishNormalized } from '../collector.js';
import { forEachPaced } from '../gate.js';
import type { LiveContext, LiveLoop } from './context.js';
import { pollPacing, repeatEvery } from './loop.js';

/**
 * Settled funding of every symbol from its history (`fetchFundingRateHistory`), spread
 * over each interval, at most 12 h back. Checkpoint: the last settlement time published.
 */
export class SettledFundingPoll implements LiveLoop {
  private readonly lastSettled = new Map<string, number>();

  constructor(private readonly ctx: LiveContext) {}

  run(signal: AbortSignal): Promise<void> {
    const everyMs = this.ctx.options.fundingHistoryPollMs;
    return repeatEvery(this.ctx, 'funding_history', everyMs, signal, () => this.poll(signal));
  }

  private async poll(signal: AbortSignal): Promise<void> {
    const { ex, exchange, symbols } = this.ctx.deps;
    const pace = pollPacing(this.ctx, this.ctx.options.fundingHistoryPollMs, signal);
    await forEachPaced(symbols, pace, async (symbol) => {
      const key = checkpointKey('live', exchange, symbol, 'funding_settled');
      try {
        const saved = this.lastSettled.get(symbol) ?? (await this.ctx.deps.checkpoints.get(key));
        // Live catches up 12 h at most (the quality rule time.too_old rejects live funding older than 16 h); older history is the backfill's job.
        const from = Math.max(
          saved === null || saved === undefined ? 0 : saved + 1,
          this.ctx.clock.now() - 12 * 3_600_000,
        );
        // One call: the live catch-up (≤ 12 h, a few settlements) fits one page, and a second
        // call to find the end of the data would double this endpoint's share of its own
        // 5-minute limit (Binance: 500 /fapi/v1/fundingRate calls per 5 min per IP).
        const rows = await this.ctx.call(settledFunding.PAGE_METHOD, signal, () =>
          settledFunding.fetchPage(ex, symbol, from, settledFunding.pageLimit(exchange)),
        );
        const receivedAtMs = this.ctx.deps.now();
        const items = settledFunding.normalize(
          rows.filter((r) => typeof r.timestamp !== 'number' || r.timestamp >= from),
          { exchange, symbol, receivedAtMs, source: 'live' },
        );
        const published = await publishNormalized(
          this.ctx.publisher(),
          { exchange, feed: 'funding', origin: 'fetchFundingRateHistory', source: 'live' },
          items,
        );
        const newest = published.reduce((m, f) => Math.max(m, f.eventTimeMs), -1);
        if (newest >= 0) {
          this.lastSettled.set(symbol, newest);
          await this.ctx.deps.checkpoints.set(key, newest);
        }
      } catch (err) {
        this.ctx.onPollError('funding', symbol, err);
      }
    });
  }
}
