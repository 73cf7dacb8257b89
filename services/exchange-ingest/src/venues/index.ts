import type { ExchangeId } from '@perpflow/contracts';
import type { RawKline, RawLiquidation } from '../domain/normalize.js';
import { binanceKlines, binanceLiquidations } from './binanceusdm.js';
import { bybitKlines, bybitLiquidations } from './bybit.js';

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
