/**
 * Bench inputs built the way the pipeline builds them: the simulator's market model
 * (the same numbers exchange-sim serves), normalized into contract records by
 * exchange-ingest's own functions, serialized by @perpflow/kafka's toMessage.
 */
import {
  type AlignedBar,
  type Candle,
  type Feed,
  type FundingObservation,
  type LiquidationEvent,
  type OpenInterestObservation,
  sampleAlignedBar,
} from '@perpflow/contracts';
import { createMarketModel, type MarketModel } from '@perpflow/exchange-sim';
import {
  candleFromOhlcv,
  liquidationFromRaw,
  type Normalized,
  openInterestFromCcxt,
  settledFundingFromCcxt,
} from '../../services/exchange-ingest/src/domain/normalize.js';

export const TF_MS = 60_000;
export const DAY_MS = 86_400_000;
export const SIM_SEED = 42;

export type RawRecord =
  | { feed: 'ohlcv'; record: Candle }
  | { feed: 'open_interest'; record: OpenInterestObservation }
  | { feed: 'funding'; record: FundingObservation }
  | { feed: 'liquidation'; record: LiquidationEvent };

export interface Universe {
  model: MarketModel;
  /** ccxt unified symbols, e.g. `BTC/USDT:USDT`, and the venue ids. */
  symbols: { unified: string; id: string }[];
}

/** The simulator's first `count` symbols listed before `fromMs` (what a backfill from there finds). */
export function universe(count: number, fromMs: number): Universe {
  const model = createMarketModel({ seed: SIM_SEED, symbolCount: Math.max(count * 2, count + 20) });
  const symbols = model.symbols
    .filter((s) => s.onboardMs <= fromMs)
    .slice(0, count)
    .map((s) => ({ id: s.id, unified: `${s.base}/USDT:USDT` }));
  if (symbols.length < count)
    throw new Error(`only ${symbols.length} simulated symbols listed before ${fromMs}`);
  return { model, symbols };
}

function ok<T>(n: Normalized<T>): T {
  if (!n.ok) throw new Error(`bench input broke the contract: ${n.error.message}`);
  return n.value;
}

/** Whole UTC days ending at yesterday's midnight: history the simulator serves. */
export function recentDays(days: number, nowMs = Date.now()): { fromMs: number; toMs: number } {
  const toMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return { fromMs: toMs - days * DAY_MS, toMs };
}

/**
 * Every raw record of `symbols` over [fromMs, toMs): 1m candles, 5m open interest,
 * settled funding and liquidations, received 500 ms after the event (backfill
 * source), in event-time order per symbol, symbols interleaved minute by minute.
 */
export function rawRecords(u: Universe, fromMs: number, toMs: number): RawRecord[] {
  const perSymbol = u.symbols.map(({ unified, id }) => {
    const stamp = (t: number) => ({
      exchange: 'binanceusdm' as const,
      symbol: unified,
      receivedAtMs: t + 500,
      source: 'backfill' as const,
    });
    const out: RawRecord[] = [];
    for (const c of u.model.candles(id, TF_MS, fromMs, toMs))
      out.push({
        feed: 'ohlcv',
        record: ok(
          candleFromOhlcv(
            [c.openTimeMs, c.open, c.high, c.low, c.close, c.volume],
            stamp(c.openTimeMs + TF_MS),
            '1m',
            true,
          ),
        ),
      });
    for (const p of u.model.openInterestHistory(id, 300_000, fromMs, toMs))
      out.push({
        feed: 'open_interest',
        record: ok(
          openInterestFromCcxt(
            {
              openInterestAmount: p.openInterest,
              openInterestValue: p.openInterestValue,
              timestamp: p.timeMs,
            },
            stamp(p.timeMs),
          ),
        ),
      });
    for (const f of u.model.fundingHistory(id, fromMs, toMs))
      out.push({
        feed: 'funding',
        record: ok(
          settledFundingFromCcxt({ fundingRate: f.rate, timestamp: f.fundingTimeMs }, stamp(f.fundingTimeMs)),
        ),
      });
    for (const l of u.model.liquidations(id, fromMs, toMs))
      out.push({
        feed: 'liquidation',
        record: ok(
          liquidationFromRaw(
            { side: l.side, price: l.averagePrice || l.price, amount: l.qty, eventTimeMs: l.timeMs },
            stamp(l.timeMs),
          ),
        ),
      });
    return out.sort((a, b) => a.record.receivedAtMs - b.record.receivedAtMs);
  });
  // Interleave symbols in receive order, as a backfill of many symbols arrives.
  return perSymbol.flat().sort((a, b) => a.record.receivedAtMs - b.record.receivedAtMs);
}

export function countByFeed(records: readonly RawRecord[]): Record<Feed, number> {
  const n: Record<Feed, number> = { ohlcv: 0, open_interest: 0, funding: 0, liquidation: 0 };
  for (const r of records) n[r.feed]++;
  return n;
}

/** Aligned bars with the simulator's prices and realistic nulls and flags, one series per symbol. */
export function alignedBars(u: Universe, fromMs: number, toMs: number): AlignedBar[][] {
  return u.symbols.map(({ unified, id }) => {
    const oi = u.model.openInterestHistory(id, 300_000, fromMs - 300_000, toMs);
    let k = 0;
    return u.model.candles(id, TF_MS, fromMs, toMs).map((c, i) => {
      while (k + 1 < oi.length && (oi[k + 1]?.timeMs ?? Number.POSITIVE_INFINITY) <= c.openTimeMs + TF_MS)
        k++;
      const o = oi[k];
      const interval = u.model.fundingIntervalMs(id);
      const fundingTimeMs = Math.floor(c.openTimeMs / interval) * interval;
      return sampleAlignedBar({
        symbol: unified,
        eventTimeMs: c.openTimeMs,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
        openInterest: o ? o.openInterest : null,
        openInterestTimeMs: o ? o.timeMs : null,
        openInterestMissing: o ? null : 'not_observed',
        fundingRate: u.model.fundingSettlement(id, fundingTimeMs).rate,
        fundingTimeMs,
        predictedFundingRate: null,
        predictedFundingTimeMs: null,
        fundingIntervalMs: null,
        fundingRate8h: null,
        markPrice: null,
        markPriceTimeMs: null,
        indexPrice: null,
        indexPriceTimeMs: null,
        basis: null,
        liqLongNotional: i % 17 === 0 ? c.close * 0.5 : 0,
        liqShortNotional: i % 23 === 0 ? c.close * 0.3 : 0,
        liqCount: (i % 17 === 0 ? 1 : 0) + (i % 23 === 0 ? 1 : 0),
        liqPriceKind: 'average_fill',
        liqCompleteness: 'snapshot_1s',
        knownAtMs: c.openTimeMs + TF_MS + 500,
        revision: 0,
        candleFilled: false,
        openInterestStale: false,
        fundingStale: false,
      });
    });
  });
}
