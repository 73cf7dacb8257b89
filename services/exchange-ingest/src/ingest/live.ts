import type { RawKline, RawLiquidation } from '../domain/normalize.js';
import { CandleFeed } from './live/candles.js';
import { ClockSync } from './live/clock.js';
import { type LiveDeps, LiveContext, type LiveLoop, type LiveOptions } from './live/context.js';
import { LiquidationFeed } from './live/liquidations.js';
import { OpenInterestPoll } from './live/open-interest.js';
import { PredictedFundingPoll } from './live/predicted-funding.js';
import { SettledFundingPoll } from './live/settled-funding.js';

export type { LiveDeps, LiveOptions } from './live/context.js';

/**
 * Keeps every (symbol, feed) of one exchange fresh: closed candles from the kline
 * websocket (REST polling fills gaps, or polls everything with candleSource
 * 'rest'), open interest by REST polling, predicted funding by one bulk call,
 * settled funding from history, liquidations from the all-market websocket stream.
 * Each is a loop of its own in `live/`; they share one context (`live/context.ts`):
 * the exchange's clock, kept by `ClockSync`, and the rule that candle rounds go first.
 */
export class LiveIngestor {
  private readonly ctx: LiveContext;
  private readonly candles: CandleFeed;
  private readonly liquidations: LiquidationFeed;

  constructor(deps: LiveDeps, options: LiveOptions) {
    this.ctx = new LiveContext(deps, options);
    this.candles = new CandleFeed(this.ctx);
    this.liquidations = new LiquidationFeed(this.ctx);
  }

  /** The exchange's clock as we best know it (server time offset, re-synced every 5 min). */
  exchangeNow(): number {
    return this.ctx.clock.now();
  }

  /** Called by the exchange adapter's liquidation hook for every raw event. */
  onLiquidation(symbol: string, liquidation: RawLiquidation): void {
    this.liquidations.onLiquidation(symbol, liquidation);
  }

  /** Called by the exchange adapter's kline hook for every raw websocket kline. */
  onKline(symbol: string, kline: RawKline): void {
    this.candles.onKline(symbol, kline);
  }

  /** Called by the exchange adapter when a websocket connection closes or fails. */
  onWebsocketClosed(url: string, err?: Error): void {
    this.candles.stream.onWebsocketClosed(url, err);
  }

  /** Called by the exchange adapter when a websocket connection opens. */
  onWebsocketOpened(url: string): void {
    this.liquidations.onWebsocketOpened(url);
  }

  /** Runs the configured feeds' loops until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { deps, options } = this.ctx;
    const { feeds } = options;
    // Every stream is visible (and visibly stale) from the start, even before its first record.
    const startedAt = deps.now();
    for (const symbol of deps.symbols)
      for (const feed of ['ohlcv', 'open_interest', 'funding'] as const)
        if (feeds.has(feed))
          deps.metrics.freshness.expect({ exchange: deps.exchange, symbol, feed }, startedAt);
    const loops: LiveLoop[] = [new ClockSync(this.ctx)];
    if (feeds.has('ohlcv')) loops.push(this.candles);
    if (feeds.has('open_interest')) loops.push(new OpenInterestPoll(this.ctx));
    if (feeds.has('funding'))
      loops.push(new PredictedFundingPoll(this.ctx), new SettledFundingPoll(this.ctx));
    if (feeds.has('liquidation')) loops.push(this.liquidations);
    await Promise.all(loops.map((loop) => loop.run(signal)));
  }
}
