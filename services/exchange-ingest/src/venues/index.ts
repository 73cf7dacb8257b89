import type { ExchangeId } from '@perpflow/contracts';
import type { RawLiquidation } from '../domain/normalize.js';
import { binanceLiquidations } from './binanceusdm.js';
import { bybitLiquidations } from './bybit.js';

/** One mapper per venue for the wire messages we read ourselves (ccxt's return values drop events in bursts). */
export const LIQUIDATION_MAPPERS: Partial<
  Record<ExchangeId, (message: unknown) => { marketId: string; liquidation: RawLiquidation }[]>
> = {
  binanceusdm: binanceLiquidations,
  bybit: bybitLiquidations,
};
