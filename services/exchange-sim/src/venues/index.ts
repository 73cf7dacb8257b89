import { type BinanceLimitOptions, binanceusdm } from './binanceusdm.js';
import { type BybitLimitOptions, bybit } from './bybit.js';
import { type HyperliquidLimitOptions, hyperliquid } from './hyperliquid.js';
import { type OkxLimitOptions, okx } from './okx.js';
import type { Venue, VenueId } from './types.js';

/** Every venue's module, by id: the server, the streams and the faults know venues only through this. */
export const VENUES = { binanceusdm, bybit, okx, hyperliquid } satisfies Record<VenueId, Venue<never>>;

/** Rate-limit options per venue (each module documents its defaults). */
export interface VenueLimits {
  binanceusdm?: BinanceLimitOptions;
  bybit?: BybitLimitOptions;
  okx?: OkxLimitOptions;
  hyperliquid?: HyperliquidLimitOptions;
}

export type { BinanceLimitOptions, BybitLimitOptions, HyperliquidLimitOptions, OkxLimitOptions };
export * from './types.js';
