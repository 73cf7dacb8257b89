import type { ExchangeId } from '@perpflow/contracts';
import type { RawKline, RawLiquidation } from '../domain/normalize.js';
import { binanceKlines, binanceLiquidations } from './binanceusdm.js';
import {
  BYBIT_BAN,
  BYBIT_CCXT_OPTIONS,
  bybitKlines,
  bybitLiquidations,
  bybitOneSideOpenInterest,
  bybitOpenInterestHistoryParams,
} from './bybit.js';

/** One mapper per venue for the wire messages we read ourselves (ccxt's return values drop events in bursts). */
export const LIQUIDATION_MAPPERS: Partial<
  Record<ExchangeId, (message: unknown) => { marketId: string; liquidation: RawLiquidation }[]>
> = {
  binanceusdm: binanceLiquidations,
  bybit: bybitLiquidations,
};

/** Kline messages, read from the wire: ccxt's parsed candles lose the "closed" flag. */
export const KLINE_MAPPERS: Partial<Record<ExchangeId, (message: unknown) => RawKline[]>> = {
  binanceusdm: binanceKlines,
  bybit: bybitKlines,
};

/**
 * Extra ccxt params that make an open-interest history page start at `since` and hold
 * up to `limit` points from there. Binance's openInterestHist pages forward from
 * startTime (not verified against a live answer with both bounds: no recording found).
 */
export const OPEN_INTEREST_HISTORY_PARAMS: Partial<
  Record<ExchangeId, (sinceMs: number, limit: number, periodMs: number) => Record<string, unknown>>
> = {
  bybit: bybitOpenInterestHistoryParams,
};

/**
 * How a venue says "this IP is banned" in a rate-limit error, and how long to stay away
 * when it sends no Retry-After. Binance: 418 ("IP banned until …", usually with
 * Retry-After); Bybit: a plain 403 for at least 10 minutes.
 */
export const BAN_SIGNALS: Record<string, { pattern: RegExp; pauseMs: number }> = {
  binanceusdm: { pattern: /418|banned/i, pauseMs: 120_000 },
  bybit: BYBIT_BAN,
};

/** ccxt options pinned per venue, so a change of ccxt's defaults cannot change what we subscribe to. */
export const CCXT_OPTIONS: Partial<Record<ExchangeId, Record<string, unknown>>> = {
  bybit: BYBIT_CCXT_OPTIONS,
};

/** Open interest as one side in base units from ccxt's answer, where the venue reports otherwise. */
export const ONE_SIDE_OPEN_INTEREST: Partial<
  Record<ExchangeId, (oi: { openInterestAmount?: number | undefined; info?: unknown }) => number | undefined>
> = {
  bybit: bybitOneSideOpenInterest,
};
