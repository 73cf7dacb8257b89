import { type BinanceLimitOptions, binanceusdm } from './binanceusdm.js';
import { type BybitLimitOptions, bybit } from './bybit.js';
import type { Venue, VenueId } from './types.js';

/** Every venue's module, by id: the server, the streams and the faults know venues only through this. */
export const VENUES = { binanceusdm, bybit } satisfies Record<VenueId, Venue<never>>;

/** Rate-limit options per venue (each module documents its defaults). */
export interface VenueLimits {
  binanceusdm?: BinanceLimitOptions;
  bybit?: BybitLimitOptions;
}

export type { BinanceLimitOptions, BybitLimitOptions };
export * from './types.js';
