import { type Candle, timeframeMs } from '@perpflow/contracts';
import { forEachPool, sleep } from '@perpflow/runtime';
import { checkpointKey } from '../../adapters/checkpoints.js';
import { type FeedItem, isClosed, type RawKline } from '../../domain/normalize.js';
import * as candles from '../../feeds/candles.js';
import { publishNormalized } from '../collector.js';
import { CandleStream } from './candle-stream.js';
import type { LiveContext, LiveLoop } from './context.js';
import { repeatEvery } from './loop.js';

/**
 * The largest catch-up one live poll makes after a pause: below 100 bars a
 * Binance kline call weighs 1, so a restart never costs the universe 5× its
 * planned weight. Older gaps are the backfill's job.
 */
const MAX_CATCH_UP_BARS = 99;

/**
 * Closed candles of every symbol: from the kline websocket (`CandleStream`, buffered
 * by `onKline`, published every 100 ms), with REST rounds filling what it missed after
 * each bar close; or, with candleSource 'rest', REST rounds only. Open (unfinished)
 * candles are never published. Checkpoint: the last published open time per symbol.
 */
export class CandleFeed implements LiveLoop {
  readonly stream: CandleStream;
  private readonly lastCandleOpen = new Map<string, number>();
  private readonly klineBuffer: { symbol: string; row: number[]; receivedAtMs: number }[] = [];
  /** Symbols whose candles a REST poll or a websocket flush is publishing right now. */
  private readonly candleBusy = new Set<string>();
  /** Symbols the websocket could not continue (a gap): REST polls them at the next gap check. */
  private readonly restWanted = new Set<string>();

  constructor(private readonly ctx: LiveContext) {
    this.stream = new CandleStream(ctx);
  }

  async run(signal: AbortSignal): Promise<void> {
    const loops = [this.runRounds(signal)];
    if (this.ctx.options.candleSource === 'websocket') {
      loops.push(this.stream.run(signal));
      // Every bar waits for this in the live path (bar close -> aligned topic, target 1 s);
      // an empty buffer costs nothing, and a burst at the close still goes in one or two sends.
      loops.push(repeatEvery(this.ctx, 'kline_flush', 100, signal, () => this.flushKlines()));
    }
    await Promise.all(loops);
  }

  private async runRounds(signal: AbortSignal): Promise<void> {
    const { deps, options, clock } = this.ctx;
    const tf = timeframeMs(options.timeframe);
    const keys = deps.symbols.map((s) => checkpointKey('live', deps.exchange, s, 'ohlcv'));
    const saved = await deps.checkpoints.getMany(keys);
    const now = clock.now();
    deps.symbols.forEach((s, i) => {
      const v = saved[i];
      // A checkpoint ahead of the exchange's clock (left by a run against a faster simulated clock) is ignored.
      if (v !== null && v !== undefined && v < now) this.lastCandleOpen.set(s, v);
    });
    const websocket = options.candleSource === 'websocket';
    // First round: every symbol by REST (catch-up from the checkpoint). Afterwards, with
    // websocket candles, REST polls only the symbols whose last closed candle did not
    // arrive over the websocket (a reconnect, a gap) `gapCheckMs` after each close.
    let symbols: readonly string[] = deps.symbols;
    while (!signal.aborted) {
      await this.ctx.candleRounds.run(
        forEachPool(symbols, options.concurrency, (s) => this.pollCandles(s, signal)),
      );
      const nextClose = Math.floor(clock.now() / tf) * tf + tf;
      const delay = websocket ? options.gapCheckMs : options.candleDelayMs;
      await sleep(Math.max(0, nextClose + delay - clock.now()), signal).catch(() => undefined);
      if (websocket) {
        const expected = Math.floor(clock.now() / tf) * tf - tf;
        symbols = deps.symbols.filter(
          (s) => this.restWanted.has(s) || (this.lastCandleOpen.get(s) ?? -1) < expected,
        );
        this.restWanted.clear();
        deps.metrics.gapFills.inc({ exchange: deps.exchange }, symbols.length);
      }
    }
  }

  /** One symbol's closed candles since its last published one, by REST (at most MAX_CATCH_UP_BARS). */
  async pollCandles(symbol: string, signal?: AbortSignal): Promise<void> {
    if (this.candleBusy.has(symbol)) {
      this.restWanted.add(symbol); // the websocket flush holds it: next round
      return;
    }
    this.candleBusy.add(symbol);
    const { ex, exchange } = this.ctx.deps;
    const { clock } = this.ctx;
    const tfName = this.ctx.options.timeframe;
    const tf = timeframeMs(tfName);
    const now = clock.now();
    const last = this.lastCandleOpen.get(symbol);
    const floor = Math.floor(now / tf) * tf - MAX_CATCH_UP_BARS * tf;
    const since = last === undefined ? Math.floor(now / tf) * tf - 3 * tf : Math.max(last + tf, floor);
    const limit = Math.min(MAX_CATCH_UP_BARS, candles.pageLimit(exchange), Math.ceil((now - since) / tf) + 1);
    try {
      // A candle is final only if it had closed when the request went out: the answer's last
      // row is the candle still open, and an answer given in the last milliseconds of a bar
      // but parsed after its close would otherwise be published as closed, with partial
      // values (the live bench saw a bar on the aligned topic 5 ms before its close). Less
      // the error of our estimate of the exchange's clock (ExchangeClock.passedMs).
      const askedAtMs = clock.passedMs();
      const rows = await this.ctx.call(candles.PAGE_METHOD, signal, () =>
        candles.fetchPage(ex, symbol, tfName, since, limit),
      );
      const receivedAtMs = this.ctx.deps.now();
      const seen = new Set<number>();
      const fresh = rows
        .filter((r) => {
          const t = r[0];
          if (typeof t !== 'number') return true; // malformed: the contract says why
          if (seen.has(t)) return false; // a page may repeat a candle
          seen.add(t);
          return t > (last ?? -1) && isClosed(t, tfName, askedAtMs);
        })
        .sort((a, b) => Number(a[0]) - Number(b[0]));
      const items = candles.normalize(fresh, { exchange, symbol, receivedAtMs, source: 'live' }, tfName);
      const published = await publishNormalized(
        this.ctx.publisher(),
        { exchange, feed: 'ohlcv', origin: 'fetchOHLCV', source: 'live', timeframe: tfName },
        items,
      );
      const newest = published.reduce((m, c) => Math.max(m, c.eventTimeMs), last ?? -1);
      if (newest > (last ?? -1)) {
        this.lastCandleOpen.set(symbol, newest);
        await this.ctx.deps.checkpoints.set(checkpointKey('live', exchange, symbol, 'ohlcv'), newest);
      }
    } catch (err) {
      this.ctx.onPollError('ohlcv', symbol, err);
    } finally {
      this.candleBusy.delete(symbol);
    }
  }

  /** Called by the exchange adapter's kline hook for every raw websocket kline. */
  onKline(symbol: string, kline: RawKline): void {
    if (!kline.closed || kline.interval !== this.ctx.options.timeframe || !this.ctx.symbolSet.has(symbol))
      return;
    this.klineBuffer.push({ symbol, row: kline.row, receivedAtMs: this.ctx.deps.now() });
  }

  /**
   * Publishes the closed candles the websocket delivered: each symbol's next candle
   * in order. A candle after a gap is left to REST, which fetches the gap and it.
   */
  private async flushKlines(): Promise<void> {
    if (this.klineBuffer.length === 0) return;
    const { exchange } = this.ctx.deps;
    const tfName = this.ctx.options.timeframe;
    const tf = timeframeMs(tfName);
    const batch = this.klineBuffer.splice(0, this.klineBuffer.length).sort((a, b) => a.row[0]! - b.row[0]!);
    const held: typeof batch = [];
    const next = new Map<string, number>();
    const items: FeedItem<Candle>[] = [];
    for (const k of batch) {
      if (this.candleBusy.has(k.symbol)) {
        held.push(k); // a REST poll of this symbol is in flight: after it
        continue;
      }
      const t = k.row[0] as number;
      const last = next.get(k.symbol) ?? this.lastCandleOpen.get(k.symbol);
      if (last !== undefined && t <= last) continue; // already published (a repeat, or REST got it)
      if (last !== undefined && t > last + tf) {
        this.restWanted.add(k.symbol);
        continue;
      }
      next.set(k.symbol, t);
      items.push(
        candles.closedCandle(
          k.row,
          { exchange, symbol: k.symbol, receivedAtMs: k.receivedAtMs, source: 'live' },
          tfName,
        ),
      );
    }
    this.klineBuffer.unshift(...held);
    if (items.length === 0) return;
    for (const s of next.keys()) this.candleBusy.add(s);
    try {
      await publishNormalized(
        this.ctx.publisher(),
        { exchange, feed: 'ohlcv', origin: 'ws:kline', source: 'live', timeframe: tfName },
        items,
      );
      for (const [s, t] of next) this.lastCandleOpen.set(s, t);
      await this.ctx.deps.checkpoints.setMany(
        [...next].map(([s, t]) => [checkpointKey('live', exchange, s, 'ohlcv'), t] as [string, number]),
      );
    } catch (err) {
      // Kafka refused: REST fetches these candles at the next gap check.
      for (const s of next.keys()) this.restWanted.add(s);
      throw err;
    } finally {
      for (const s of next.keys()) this.candleBusy.delete(s);
    }
  }
}
