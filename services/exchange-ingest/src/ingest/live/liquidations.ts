import { sleep } from '@perpflow/runtime';
import { liquidationFromRaw, type RawLiquidation } from '../../domain/normalize.js';
import { publishNormalized } from '../collector.js';
import { ingestVenue } from '../../venues/index.js';
import type { LiveContext, LiveLoop } from './context.js';
import { reconnectDelayMs, repeatEvery } from './loop.js';

/**
 * Liquidations from the venue's websocket: one all-market subscription or one per
 * symbol, as the venue's module says (`liquidations.subscription`). The adapter's hook buffers each event
 * (`onLiquidation`); the buffer is published every 500 ms. No checkpoint: no REST
 * history exists.
 */
export class LiquidationFeed implements LiveLoop {
  private readonly buffer: { symbol: string; liquidation: RawLiquidation; receivedAtMs: number }[] = [];

  constructor(private readonly ctx: LiveContext) {}

  async run(signal: AbortSignal): Promise<void> {
    const { exchange, logger } = this.ctx.deps;
    const venue = ingestVenue(exchange);
    if (venue.liquidations.subscription === 'none') {
      // Nothing to subscribe to; the aligner emits null liquidation fields for such a venue.
      logger.info(
        { exchange, reason: venue.unavailable?.liquidations },
        'venue has no liquidation source; not subscribing',
      );
      return;
    }
    // Visible (and visibly down) from the start: a stream that never connects must alert.
    this.ctx.deps.metrics.wsConnected.set({ exchange, feed: 'liquidation' }, 0);
    await Promise.all([
      this.keepSubscribed(signal),
      repeatEvery(this.ctx, 'liquidation_flush', 500, signal, () => this.flush()),
    ]);
  }

  /** Called by the exchange adapter's liquidation hook for every raw event. */
  onLiquidation(symbol: string, liquidation: RawLiquidation): void {
    if (!this.ctx.symbolSet.has(symbol)) return;
    this.buffer.push({ symbol, liquidation, receivedAtMs: this.ctx.deps.now() });
  }

  /**
   * Called by the exchange adapter when a websocket connection opens: the stream is
   * connected once the connection carrying the liquidation subscription is open, not at its
   * first event (a quiet market may send none for many minutes, and the gauge at 0 that long
   * raises FeedStale, "liquidations are being lost").
   */
  onWebsocketOpened(url: string): void {
    const { ex, exchange, metrics } = this.ctx.deps;
    const pattern = ingestVenue(exchange).liquidations.subscriptionHash;
    const hashes = Object.keys(ex.clients?.[url]?.subscriptions ?? {});
    if (pattern && hashes.some((h) => pattern.test(h)))
      metrics.wsConnected.set({ exchange, feed: 'liquidation' }, 1);
  }

  private async keepSubscribed(signal: AbortSignal): Promise<void> {
    const { ex, exchange, metrics, logger, symbols } = this.ctx.deps;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const { subscription, allMarketSymbols } = ingestVenue(exchange).liquidations;
        if (subscription === 'all-market')
          await ex.watchLiquidationsForSymbols(allMarketSymbols === 'followed' ? [...symbols] : []);
        else await Promise.race(symbols.map((s) => ex.watchLiquidations(s)));
        metrics.wsConnected.set({ exchange, feed: 'liquidation' }, 1);
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        metrics.wsConnected.set({ exchange, feed: 'liquidation' }, 0);
        metrics.errors.inc({ exchange, kind: 'websocket' });
        logger.warn(
          { exchange, err: (err as Error).message, failures },
          'liquidation stream dropped; reconnecting',
        );
        await sleep(reconnectDelayMs(failures), signal).catch(() => undefined);
      }
    }
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const { exchange } = this.ctx.deps;
    const batch = this.buffer.splice(0, this.buffer.length);
    const items = batch.map((b) => ({
      ...liquidationFromRaw(b.liquidation, {
        exchange,
        symbol: b.symbol,
        receivedAtMs: b.receivedAtMs,
        source: 'live',
      }),
      symbol: b.symbol,
    }));
    try {
      await publishNormalized(
        this.ctx.publisher(),
        { exchange, feed: 'liquidation', origin: 'ws:forceOrder', source: 'live' },
        items,
      );
    } catch (err) {
      // Kafka refused: keep the events (in order) for the next flush rather than lose them.
      this.buffer.unshift(...batch);
      throw err;
    }
  }
}
