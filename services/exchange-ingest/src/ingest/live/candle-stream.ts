import { ingestVenue } from '../../venues/index.js';
import { sleep } from '@perpflow/runtime';
import type { LiveContext, LiveLoop } from './context.js';
import { reconnectDelayMs } from './loop.js';

/**
 * Keeps the kline subscription of every symbol open: one watch call (ccxt
 * subscribes on its first call and reconnects on the next one after a drop),
 * then waits for the connection to close. The records come from the kline hook
 * (`CandleFeed.onKline`).
 */
export class CandleStream implements LiveLoop {
  private onClosed: ((err?: Error) => void) | undefined;

  constructor(private readonly ctx: LiveContext) {}

  async run(signal: AbortSignal): Promise<void> {
    const { ex, exchange, metrics, logger, symbols } = this.ctx.deps;
    const pairs = symbols.map((s) => [s, this.ctx.options.timeframe] as [string, string]);
    let failures = 0;
    const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    while (!signal.aborted) {
      const dropped = new Promise<never>((_, reject) => {
        this.onClosed = (err) => reject(err ?? new Error('websocket closed'));
      });
      dropped.catch(() => undefined);
      try {
        const perSymbol = ingestVenue(exchange).klineSubscription?.watch === 'per-symbol';
        // Per symbol: every subscription is sent at once; the stream is up once each answered.
        const watched = perSymbol
          ? Promise.all(pairs.map(([s, tf]) => ex.watchOHLCV(s, tf)))
          : ex.watchOHLCVForSymbols(pairs);
        await Promise.race([watched, dropped]);
        metrics.wsConnected.set({ exchange, feed: 'ohlcv' }, 1);
        failures = 0;
        await Promise.race([dropped, aborted]);
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        metrics.wsConnected.set({ exchange, feed: 'ohlcv' }, 0);
        metrics.errors.inc({ exchange, kind: 'websocket' });
        logger.warn(
          { exchange, err: (err as Error).message, failures },
          'candle stream dropped; reconnecting (REST fills the gap)',
        );
        await sleep(reconnectDelayMs(failures), signal).catch(() => undefined);
      }
    }
  }

  /** Called by the exchange adapter when a websocket connection closes or fails. */
  onWebsocketClosed(url: string, err?: Error): void {
    const client = this.ctx.deps.ex.clients?.[url];
    // Only the connection that carries the kline subscriptions (or one already forgotten by ccxt).
    const prefix = ingestVenue(this.ctx.deps.exchange).klineSubscription?.hashPrefix ?? 'ohlcv::';
    if (client && !Object.keys(client.subscriptions ?? {}).some((h) => h.startsWith(prefix))) return;
    this.onClosed?.(err);
  }
}
