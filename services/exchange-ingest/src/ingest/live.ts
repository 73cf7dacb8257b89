import { type ExchangeId, type Timeframe, timeframeMs } from '@perpflow/contracts';
import { type Logger, sleep } from '@perpflow/runtime';
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
  type RawLiquidation,
  settledFundingFromCcxt,
} from '../domain/normalize.js';
import { pageLimits, pagesOf } from '../domain/paging.js';
import type { IngestMetrics } from '../metrics.js';
import { publishNormalized } from './collector.js';
import { forEachPool, type RateGate } from './gate.js';

export interface LiveOptions {
  timeframe: Timeframe;
  feeds: ReadonlySet<string>;
  candleDelayMs: number;
  oiPollMs: number;
  fundingPollMs: number;
  fundingHistoryPollMs: number;
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

/** The largest catch-up one live poll makes after a pause; older gaps are the backfill's job. */
const MAX_CATCH_UP_BARS = 1000; // capped further by the venue's page size

/**
 * Keeps every (symbol, feed) of one exchange fresh: closed candles and open
 * interest by REST polling, predicted funding by one bulk call, settled funding
 * from history, liquidations from the all-market websocket stream.
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
    const loops: Promise<void>[] = [this.loop('clock', 300_000, signal, () => this.syncClock())];
    if (feeds.has('ohlcv')) loops.push(this.candleLoop(signal));
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
    const server = await callExchange(this.deps.ex, 'fetchTime', this.deps.metrics, () =>
      this.deps.ex.fetchTime(),
    );
    const t1 = this.deps.now();
    if (typeof server === 'number' && Number.isFinite(server))
      this.clockOffsetMs = Math.round(server - (t0 + t1) / 2);
  }

  private async candleLoop(signal: AbortSignal): Promise<void> {
    const tf = timeframeMs(this.options.timeframe);
    const keys = this.deps.symbols.map((s) => checkpointKey('live', this.deps.exchange, s, 'ohlcv'));
    const saved = await this.deps.checkpoints.getMany(keys);
    this.deps.symbols.forEach((s, i) => {
      const v = saved[i];
      if (v !== null && v !== undefined) this.lastCandleOpen.set(s, v);
    });
    while (!signal.aborted) {
      await forEachPool(this.deps.symbols, this.options.concurrency, (s) => this.pollCandles(s, signal));
      const nextClose = Math.floor(this.exchangeNow() / tf) * tf + tf;
      const wait = nextClose + this.options.candleDelayMs - this.exchangeNow();
      await sleep(Math.max(0, wait), signal).catch(() => undefined);
    }
  }

  private async pollCandles(symbol: string, signal: AbortSignal): Promise<void> {
    const { ex, exchange, metrics } = this.deps;
    const tfName = this.options.timeframe;
    const tf = timeframeMs(tfName);
    const now = this.exchangeNow();
    const last = this.lastCandleOpen.get(symbol);
    const floor = Math.floor(now / tf) * tf - MAX_CATCH_UP_BARS * tf;
    const since = last === undefined ? Math.floor(now / tf) * tf - 3 * tf : Math.max(last + tf, floor);
    const limit = Math.min(MAX_CATCH_UP_BARS, pageLimits(exchange).ohlcv, Math.ceil((now - since) / tf) + 1);
    try {
      await this.gate.pass(signal);
      const rows = await callExchange(ex, 'fetchOHLCV', metrics, () =>
        ex.fetchOHLCV(symbol, tfName, since, limit),
      );
      const receivedAtMs = this.deps.now();
      const exNow = this.exchangeNow();
      const fresh = rows.filter((r) => {
        const t = r[0];
        if (typeof t !== 'number') return true; // malformed: the contract says why
        return t > (last ?? -1) && isClosed(t, tfName, exNow);
      });
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
    }
  }

  private async pollOpenInterest(signal: AbortSignal): Promise<void> {
    const { ex, exchange, metrics } = this.deps;
    await forEachPool(this.deps.symbols, this.options.concurrency, async (symbol) => {
      try {
        await this.gate.pass(signal);
        const oi = await callExchange(ex, 'fetchOpenInterest', metrics, () => ex.fetchOpenInterest(symbol));
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
    const { ex, exchange, metrics } = this.deps;
    await this.gate.pass(signal);
    const all = await callExchange(ex, 'fetchFundingRates', metrics, () => ex.fetchFundingRates());
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
    const { ex, exchange, metrics } = this.deps;
    await forEachPool(this.deps.symbols, this.options.concurrency, async (symbol) => {
      const key = checkpointKey('live', exchange, symbol, 'funding_settled');
      try {
        const saved = this.lastSettled.get(symbol) ?? (await this.deps.checkpoints.get(key));
        // Live catches up 12 h at most (the quality rule time.too_old rejects live funding older than 16 h); older history is the backfill's job.
        const from = Math.max(
          saved === null || saved === undefined ? 0 : saved + 1,
          this.exchangeNow() - 12 * 3_600_000,
        );
        const spec = {
          fetch: async (since: number, limit: number) => {
            await this.gate.pass(signal);
            return callExchange(ex, 'fetchFundingRateHistory', metrics, () =>
              ex.fetchFundingRateHistory(symbol, since, limit),
            );
          },
          timeOf: (r: Record<string, unknown>) => (typeof r.timestamp === 'number' ? r.timestamp : null),
          limit: pageLimits(exchange).fundingHistory,
          stepMs: 1,
        };
        for await (const page of pagesOf(spec, from, this.exchangeNow() + 1)) {
          const receivedAtMs = this.deps.now();
          const items = page.rows.map((r) => ({
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
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal).catch(() => undefined);
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
