import { createHash } from 'node:crypto';

/** Stable shard of a symbol: the same symbol always lands on the same worker i of n. */
export function shardOf(exchange: string, symbol: string, count: number): number {
  const h = createHash('sha1').update(`${exchange}|${symbol}`).digest();
  return h.readUInt32BE(0) % count;
}

export interface UniverseSpec {
  /** `all` or a comma-separated list of unified symbols. */
  symbols: string;
  limit: number;
  shard: { index: number; count: number };
}

/**
 * The symbols this worker ingests on one exchange: every active linear perpetual
 * (or the listed ones, which must exist), sorted, limited, then sharded.
 * Throws naming the symbols the exchange does not list.
 */
export function selectSymbols(
  exchange: string,
  markets: readonly {
    symbol: string;
    active?: boolean | undefined;
    swap?: boolean | undefined;
    linear?: boolean | undefined;
  }[],
  spec: UniverseSpec,
): string[] {
  const perpetuals = markets
    .filter((m) => m.swap === true && m.linear !== false && m.active !== false)
    .map((m) => m.symbol)
    .sort();
  let chosen: string[];
  if (spec.symbols.trim() === 'all') chosen = perpetuals;
  else {
    const wanted = spec.symbols
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const known = new Set(markets.map((m) => m.symbol));
    const unknown = wanted.filter((s) => !known.has(s));
    if (unknown.length > 0)
      throw new Error(
        `INGEST_SYMBOLS: ${exchange} does not list ${unknown.join(', ')} (use ccxt unified symbols, e.g. BTC/USDT:USDT)`,
      );
    chosen = wanted;
  }
  if (spec.limit > 0) chosen = chosen.slice(0, spec.limit);
  return chosen.filter((s) => shardOf(exchange, s, spec.shard.count) === spec.shard.index);
}
