import { EXCHANGES, type ExchangeId } from '@perpflow/contracts';
import { binanceusdm } from './binanceusdm.js';
import { bybit } from './bybit.js';
import { hyperliquid } from './hyperliquid.js';
import { okx } from './okx.js';
import type { IngestVenue } from './types.js';

/**
 * The venues the ingest can read, one module each (`venues/<id>.ts`). A venue of the
 * contract's exchange list without a module here is refused at start-up (the config
 * names it); adding one is a file and a line here.
 */
export const INGEST_VENUES: Partial<Record<ExchangeId, IngestVenue>> = {
  binanceusdm,
  bybit,
  okx,
  hyperliquid,
};

/** Exchange ids with an ingest module, in the contract's order. */
export const SUPPORTED_EXCHANGES: ExchangeId[] = EXCHANGES.filter((id) => INGEST_VENUES[id] !== undefined);

/** The venue's module; throws naming the supported ones when there is none. */
export function ingestVenue(id: string): IngestVenue {
  const venue = INGEST_VENUES[id as ExchangeId];
  if (!venue)
    throw new Error(
      `exchange '${id}' has no ingest venue module (services/exchange-ingest/src/venues/${id}.ts); supported: ${SUPPORTED_EXCHANGES.join(', ')}`,
    );
  return venue;
}

export type * from './types.js';
