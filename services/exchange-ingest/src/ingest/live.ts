import { type Candle, type ExchangeId, type Timeframe, timeframeMs } from '@perpflow/contracts';
import { backoffDelayMs, type Logger, sleep } from '@perpflow/runtime';
import type { CcxtExchange } from '../adapters/exchange.js';
import { callExchange } from '../adapters/exchange.js';
import { type CheckpointStore, checkpointKey } from '../adapters/checkpoints.js';
import type { RecordSink } from '../adapters/kafka-sink.js';
import {
  candleFromOhlcv,
  isClosed,
  liquidationFromRaw,
  openInterestFromCcxt,
  predictedFundingFromCcxt,
  type Normalized,
  type RawKline,
  type RawLiquidation,
  settledFundingFromCcxt,
} from '../domain/normalize.js';
import { pageLimits } from '../domain/paging.js';
import type { IngestMetrics } from '../metrics.js';
import { publishNormalized } from './collector.js';
import { forEachPaced, forEachPool, type RateGate } from './gate.js';

/** A dropped stream's wait before it reconnects: the shared backoff with full jitter, 0.5 s doubling to 30 s. */
const reconnectDelayMs = (failures: number): number =>
  backoffDelayMs(failures, { baseDelayMs: 500, maxDelayMs: 30_000 });

export interface LiveOptions {
  timeframe: Timeframe;
  feeds: ReadonlySet<string>;
  candleDelayMs: number;
  oiPollMs: number;
  fundingPollMs: number;
  fundingHistoryPollMs: number;
  /** Closed candles from the exchange's kline websocket (REST fills gaps), or REST polling only. */
  candleSource: 'websocket' | 'rest';
  /** With websocket candles: after each bar close, REST polls the symbols whose candle has not arrived by then. */
  gapCheckMs: number;
  /** Requests in flight per exchange (ccxt's throttler still spaces them by weight). */
  concurrency: number;
}

export interface LiveDeps {
  ex: CcxtExchange;
  exchange: ExchangeId;
  symbols: readonly string[];
  sink: RecordSink;
  checkpoints: CheckpointStore;
  metrics: IngestMetrics;
  logger: Logger;
  now: () => number;
  /** Shared with the backfill worker of the same exchange: one rate budget. */
  gate: RateGate;
}

/**
 * The largest catch-up one live poll makes after a pause: below 100 bars a
 * Binance kline call weighs 1, so a restart never costs the universe 5× its
 * planned weight. Older gaps are the backfill's job.
 */
const MAX_CATCH_UP_BARS = 99;
/** How far our estimate of the exchange's clock (a fetchTime round trip, every 5 min) may be off. */
const CLOCK_ESTIMATE_MARGIN_MS = 250;

/** Per-symbol loops spread their calls over this share of their interval, leaving slack for the candle rounds. */
const SPREAD_SHARE = 0.7;

/**
 * Keeps every (symbol, feed) of one exchange fresh: closed candles from the kline
 * websocket (REST polling fills gaps, or polls everything with candleSource
 * 'rest'), open interest by REST polling, predicted funding by one bulk call,
 * settled funding from history, liquidations from the all-market websocket stream.
 * Open (unfinished) candles are never published.
 */
export class LiveIngestor {
  private readonly gate: RateGate;
  private clockOffsetMs = 0;
  private readonly lastCandleOpen = new Map<string, number>();
  private readonly lastOi = new Map<string, number>();
  private readonly lastPredicted = new Map<string, number>();
  private readonly lastSettled = new Map<string, number>();
  private readonly liqBuffer: { symbol: string; liquidation: RawLiquidation; receivedAtMs: number }[] = [];
  private readonly symbolSet: Set<string>;
  /** Set while a candle round is running: lower-priority loops wait for it (candles go first after each close). */
  private candleRound: Promise<void> | null = null;
  private readonly klineBuffer: { symbol: string; row: number[]; receivedAtMs: number }[] = [];
  /** Symbols whose candles a REST poll or a websocket flush is publishing right now. */
  private readonly candleBusy = new Set<string>();
  /** Symbols the websocket could not continue (a gap): REST polls them at the next gap check. */
  private readonly restWanted = new Set<string>();
  private onWsClosed: ((err?: Error) => void) | undefined;

  constructor(
    private readonly deps: LiveDeps,
    private readonly options: LiveOptions,
  ) {
    this.gate = deps.gate;
    this.symbolSet = new Set(deps.symbols);
  }

  /** The exchange's clock as we best know it (server time offset, re-synced every 5 min). */
  exchangeNow(): number {
    return this.deps.now() + this.clockOffsetMs;
  }

  /** Called by the exchange adapter's liquidation hook for every raw event. */
  onLiquidation(symbol: string, liquidation: RawLiquidation): void {
    if (!this.symbolSet.has(symbol)) return;
    this.liqBuffer.push({ symbol, liquidation, receivedAtMs: this.deps.now() });
  }

  async run(signal: AbortSignal): Promise<void> {
    const { feeds } = this.options;
    // Every stream is visible (and visibly stale) from the start, even before its first record.
    const startedAt = this.deps.now();
    for (const symbol of this.deps.symbols)
      for (const feed of ['ohlcv', 'open_interest', 'funding'] as const)
        if (feeds.has(feed))
          this.deps.metrics.freshness.expect({ exchange: this.deps.exchange, symbol, feed }, startedAt);
    const loops: Promise<void>[] = [this.loop('clock', 300_000, signal, () => this.syncClock())];
    if (feeds.has('ohlcv')) {
      loops.push(this.candleLoop(signal));
      if (this.options.candleSource === 'websocket') {
        loops.push(this.candleStream(signal));
        // Every bar waits for this in the live path (bar close -> aligned topic, target 1 s);
        // an empty buffer costs nothing, and a burst at the close still goes in one or two sends.
        loops.push(this.loop('kline_flush', 100, signal, () => this.flushKlines()));
      }
    }
    if (feeds.has('open_interest'))
      loops.push(
        this.loop('open_interest', this.options.oiPollMs, signal, () => this.pollOpenInterest(signal)),
      );
    if (feeds.has('funding')) {
      loops.push(
        this.loop('funding', this.options.fundingPollMs, signal, () => this.pollPredictedFunding(signal)),
      );
      loops.push(
        this.loop('funding_history', this.options.fundingHistoryPollMs, signal, () =>
          this.pollSettledFunding(signal),
        ),
      );
    }
    if (feeds.has('liquidation')) {
      loops.push(this.liquidationStream(signal));
      loops.push(this.loop('liquidation_flush', 500, signal, () => this.flushLiquidations()));
    }
    await Promise.all(loops);
  }

  private async loop(
    name: string,
    everyMs: number,
    signal: AbortSignal,
    body: () => Promise<void>,
  ): Promise<void> {
    while (!signal.aborted) {
      const started = this.deps.now();
      try {
        await body();
      } catch (err) {
        if (signal.aborted) return;
        this.gate.onError(err);
        this.deps.logger.warn(
          { exchange: this.deps.exchange, loop: name, err: (err as Error).message },
          'live loop step failed; retrying next round',
        );
      }
      await sleep(Math.max(0, everyMs - (this.deps.now() - started)), signal).catch(() => undefined);
    }
  }

  private async syncClock(): Promise<void> {
    const t0 = this.deps.now();
    const server = await this.call('fetchTime', undefined, () => this.deps.ex.fetchTime());
    const t1 = this.deps.now();
    if (typeof server === 'number' && Number.isFinite(server))
      this.clockOffsetMs = Math.round(server - (t0 + t1) / 2);
  }

  private async candleLoop(signal: AbortSignal): Promise<void> {
    const tf = timeframeMs(this.options.timeframe);
    const keys = this.deps.symbols.map((s) => checkpointKey('live', this.deps.exchange, s, 'ohlcv'));
    const saved = await this.deps.checkpoints.getMany(keys);
    const now = this.exchangeNow();
    this.deps.symbols.forEach((s, i) => {
      const v = saved[i];
      // A checkpoint ahead of the exchange's clock (left by a run against a faster simulated clock) is ignored.
      if (v !== null && v !== undefined && v < now) this.lastCandleOpen.set(s, v);
    });
    const websocket = this.options.candleSource === 'websocket';
    // First round: every symbol by REST (catch-up from the checkpoint). Afterwards, with
    // websocket candles, REST polls only the symbols whose last closed candle did not
    // arrive over the websocket (a reconnect, a gap) `gapCheckMs` after each close.
    let symbols: readonly string[] = this.deps.symbols;
    while (!signal.aborted) {
      this.candleRound = forEachPool(symbols, this.options.concurrency, (s) => this.pollCandles(s, signal));
      await this.candleRound;
      this.candleRound = null;
      const nextClose = Math.floor(this.exchangeNow() / tf) * tf + tf;
      const delay = websocket ? this.options.gapCheckMs : this.options.candleDelayMs;
      await sleep(Math.max(0, nextClose + delay - this.exchangeNow()), signal).catch(() => undefined);
      if (websocket) {
        const expected = Math.floor(this.exchangeNow() / tf) * tf - tf;
        symbols = this.deps.symbols.filter(
          (s) => this.restWanted.has(s) || (this.lastCandleOpen.get(s) ?? -1) < expected,
        );
        this.restWanted.clear();
        this.deps.metrics.gapFills.inc({ exchange: this.deps.exchange }, symbols.length);
      }
    }
  }

  private async pollCandles(symbol: string, signal: AbortSignal): Promise<void> {
    if (this.candleBusy.has(symbol)) {
      this.restWanted.add(symbol); // the websocket flush holds it: next round
      return;
    }
    this.candleBusy.add(symbol);
    const { ex, exchange } = this.deps;
    const tfName = this.options.timeframe;
    const tf = timeframeMs(tfName);
    const now = this.exchangeNow();
    const last = this.lastCandleOpen.get(symbol);
    const floor = Math.floor(now / tf) * tf - MAX_CATCH_UP_BARS * tf;
    const since = last === undefined ? Math.floor(now / tf) * tf - 3 * tf : Math.max(last + tf, floor);
    const limit = Math.min(MAX_CATCH_UP_BARS, pageLimits(exchange).ohlcv, Math.ceil((now - since) / tf) + 1);
    try {
      // A candle is final only if it had closed when the request went out: the answer's last
      // row is the candle still open, and an answer given in the last milliseconds of a bar
      // but parsed after its close would otherwise be published as closed, with partial
      // values (the live bench saw a bar on the aligned topic 5 ms before its close). The
      // margin covers the error of our estimate of the exchange's clock.
      const askedAtMs = this.exchangeNow() - CLOCK_ESTIMATE_MARGIN_MS;
      const rows = await this.call('fetchOHLCV', signal, () => ex.fetchOHLCV(symbol, tfName, since, limit));
      const receivedAtMs = this.deps.now();
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
      const items = fresh.map((r) => ({
        ...candleFromOhlcv(r, { exchange, symbol, receivedAtMs, source: 'live' }, tfName, true),
        symbol,
      }));
      const published = await publishNormalized(
        this.pub(),
        { exchange, feed: 'ohlcv', origin: 'fetchOHLCV', source: 'live', timeframe: tfName },
        items,
      );
      const newest = published.reduce((m, c) => Math.max(m, c.eventTimeMs), last ?? -1);
      if (newest > (last ?? -1)) {
        this.lastCandleOpen.set(symbol, newest);
        await this.deps.checkpoints.set(checkpointKey('live', exchange, symbol, 'ohlcv'), newest);
      }
    } catch (err) {
      this.onPollError('ohlcv', symbol, err);
    } finally {
      this.candleBusy.delete(symbol);
    }
  }

  /** Called by the exchange adapter's kline hook for every raw websocket kline. */
  onKline(symbol: string, kline: RawKline): void {
    if (!kline.closed || kline.interval !== this.options.timeframe || !this.symbolSet.has(symbol)) return;
    this.klineBuffer.push({ symbol, row: kline.row, receivedAtMs: this.deps.now() });
  }

  /**
   * Publishes the closed candles the websocket delivered: each symbol's next candle
   * in order. A candle after a gap is left to REST, which fetches the gap and it.
   */
  private async flushKlines(): Promise<void> {
    if (this.klineBuffer.length === 0) return;
    const { exchange } = this.deps;
    const tfName = this.options.timeframe;
    const tf = timeframeMs(tfName);
    const batch = this.klineBuffer.splice(0, this.klineBuffer.length).sort((a, b) => a.row[0]! - b.row[0]!);
    const held: typeof batch = [];
    const next = new Map<string, number>();
    const items: (Normalized<Candle> & { symbol: string })[] = [];
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
      items.push({
        ...candleFromOhlcv(
          k.row,
          { exchange, symbol: k.symbol, receivedAtMs: k.receivedAtMs, source: 'live' },
          tfName,
          true,
        ),
        symbol: k.symbol,
      });
    }
    this.klineBuffer.unshift(...held);
    if (items.length === 0) return;
    for (const s of next.keys()) this.candleBusy.add(s);
    try {
      await publishNormalized(
        this.pub(),
        { exchange, feed: 'ohlcv', origin: 'ws:kline', source: 'live', timeframe: tfName },
        items,
      );
      for (const [s, t] of next) this.lastCandleOpen.set(s, t);
      await this.deps.checkpoints.setMany(
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

  /**
   * Keeps the kline subscription of every symbol open: one watch call (ccxt
   * subscribes on its first call and reconnects on the next one after a drop),
   * then waits for the connection to close. The records come from the kline hook.
   */
  private async candleStream(signal: AbortSignal): Promise<void> {
    const { ex, exchange, metrics, logger } = this.deps;
    const pairs = this.deps.symbols.map((s) => [s, this.options.timeframe] as [string, string]);
    let failures = 0;
    const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    while (!signal.aborted) {
      const dropped = new Promise<never>((_, reject) => {
        this.onWsClosed = (err) => reject(err ?? new Error('websocket closed'));
      });
      dropped.catch(() => undefined);
      try {
        await Promise.race([ex.watchOHLCVForSymbols(pairs), dropped]);
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
    const client = this.deps.ex.clients?.[url];
    // Only the connection that carries the kline subscriptions (or one already forgotten by ccxt).
    if (client && !Object.keys(client.subscriptions ?? {}).some((h) => h.startsWith('ohlcv::'))) return;
    this.onWsClosed?.(err);
  }

  private async pollOpenInterest(signal: AbortSignal): Promise<void> {
    const { ex, exchange } = this.deps;
    const pace = {
      spreadMs: this.options.oiPollMs * SPREAD_SHARE,
      concurrency: this.options.concurrency,
      now: this.deps.now,
      signal,
      before: this.yieldToCandles,
    };
    await forEachPaced(this.deps.symbols, pace, async (symbol) => {
      try {
        const oi = await this.call('fetchOpenInterest', signal, () => ex.fetchOpenInterest(symbol));
        const receivedAtMs = this.deps.now();
        const t = typeof oi.timestamp === 'number' ? oi.timestamp : null;
        if (t !== null && t <= (this.lastOi.get(symbol) ?? -1)) return;
        const items = [
          { ...openInterestFromCcxt(oi, { exchange, symbol, receivedAtMs, source: 'live' }), symbol },
        ];
        await publishNormalized(
          this.pub(),
          { exchange, feed: 'open_interest', origin: 'fetchOpenInterest', source: 'live' },
          items,
        );
        if (t !== null) this.lastOi.set(symbol, t);
      } catch (err) {
        this.onPollError('open_interest', symbol, err);
      }
    });
  }

  private async pollPredictedFunding(signal: AbortSignal): Promise<void> {
    const { ex, exchange } = this.deps;
    await this.yieldToCandles();
    const all = await this.call('fetchFundingRates', signal, () => ex.fetchFundingRates());
    const receivedAtMs = this.deps.now();
    const items = [];
    for (const symbol of this.deps.symbols) {
      const fr = all[symbol];
      if (!fr) continue;
      const t = typeof fr.timestamp === 'number' ? fr.timestamp : null;
      if (t !== null && t <= (this.lastPredicted.get(symbol) ?? -1)) continue;
      items.push({
        ...predictedFundingFromCcxt(fr, { exchange, symbol, receivedAtMs, source: 'live' }),
        symbol,
      });
      if (t !== null) this.lastPredicted.set(symbol, t);
    }
    await publishNormalized(
      this.pub(),
      { exchange, feed: 'funding', origin: 'fetchFundingRates', source: 'live' },
      items,
    );
  }

  private async pollSettledFunding(signal: AbortSignal): Promise<void> {
    const { ex, exchange } = this.deps;
    const pace = {
      spreadMs: this.options.fundingHistoryPollMs * SPREAD_SHARE,
      concurrency: this.options.concurrency,
      now: this.deps.now,
      signal,
      before: this.yieldToCandles,
    };
    await forEachPaced(this.deps.symbols, pace, async (symbol) => {
      const key = checkpointKey('live', exchange, symbol, 'funding_settled');
      try {
        const saved = this.lastSettled.get(symbol) ?? (await this.deps.checkpoints.get(key));
        // Live catches up 12 h at most (the quality rule time.too_old rejects live funding older than 16 h); older history is the backfill's job.
        const from = Math.max(
          saved === null || saved === undefined ? 0 : saved + 1,
          this.exchangeNow() - 12 * 3_600_000,
        );
        // One call: the live catch-up (≤ 12 h, a few settlements) fits one page, and a second
        // call to find the end of the data would double this endpoint's share of its own
        // 5-minute limit (Binance: 500 /fapi/v1/fundingRate calls per 5 min per IP).
        const rows = await this.call('fetchFundingRateHistory', signal, () =>
          ex.fetchFundingRateHistory(symbol, from, pageLimits(exchange).fundingHistory),
        );
        const receivedAtMs = this.deps.now();
        const items = rows
          .filter((r) => typeof r.timestamp !== 'number' || r.timestamp >= from)
          .map((r) => ({
            ...settledFundingFromCcxt(r, { exchange, symbol, receivedAtMs, source: 'live' }),
            symbol,
          }));
        const published = await publishNormalized(
          this.pub(),
          { exchange, feed: 'funding', origin: 'fetchFundingRateHistory', source: 'live' },
          items,
        );
        const newest = published.reduce((m, f) => Math.max(m, f.eventTimeMs), -1);
        if (newest >= 0) {
          this.lastSettled.set(symbol, newest);
          await this.deps.checkpoints.set(key, newest);
        }
      } catch (err) {
        this.onPollError('funding', symbol, err);
      }
    });
  }

  private async liquidationStream(signal: AbortSignal): Promise<void> {
    const { ex, exchange, metrics, logger } = this.deps;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (exchange === 'binanceusdm') await ex.watchLiquidationsForSymbols([]);
        else await Promise.race(this.deps.symbols.map((s) => ex.watchLiquidations(s)));
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

  private async flushLiquidations(): Promise<void> {
    if (this.liqBuffer.length === 0) return;
    const batch = this.liqBuffer.splice(0, this.liqBuffer.length);
    const items = batch.map((b) => ({
      ...liquidationFromRaw(b.liquidation, {
        exchange: this.deps.exchange,
        symbol: b.symbol,
        receivedAtMs: b.receivedAtMs,
        source: 'live',
      }),
      symbol: b.symbol,
    }));
    try {
      await publishNormalized(
        this.pub(),
        { exchange: this.deps.exchange, feed: 'liquidation', origin: 'ws:forceOrder', source: 'live' },
        items,
      );
    } catch (err) {
      // Kafka refused: keep the events (in order) for the next flush rather than lose them.
      this.liqBuffer.unshift(...batch);
      throw err;
    }
  }

  /** One REST call: waits for the gate (Retry-After, weight guard), counts it, maps its error. */
  private async call<T>(method: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    await this.gate.pass(signal);
    return callExchange(this.deps.ex, method, this.deps.metrics, fn, this.gate);
  }

  /** Lower-priority loops run between candle rounds. */
  private yieldToCandles = async (): Promise<void> => {
    while (this.candleRound) await this.candleRound;
  };

  private onPollError(feed: string, symbol: string, err: unknown): void {
    const limited = this.gate.onError(err);
    this.deps.logger.warn(
      {
        exchange: this.deps.exchange,
        symbol,
        feed,
        err: (err as Error).message,
        pausedUntilMs: limited ? this.gate.pausedUntilMs : undefined,
      },
      limited
        ? 'rate limited: pausing this exchange until Retry-After'
        : 'poll failed; the next round catches up',
    );
  }

  private pub() {
    return { sink: this.deps.sink, metrics: this.deps.metrics, logger: this.deps.logger, now: this.deps.now };
  }
}
