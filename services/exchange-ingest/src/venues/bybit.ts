import type { RawLiquidation } from '../domain/normalize.js';

/**
 * Bybit v5 `allLiquidation.<SYMBOL>` message:
 * `{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":…,"data":[{"T":…,"s":"BTCUSDT","S":"Buy","v":"0.003","p":"…"}]}`.
 * Bybit's `S` is the POSITION side: `Buy` means a long position was liquidated,
 * i.e. a SELL liquidation order. We store the order side, as Binance reports it.
 */
export function bybitLiquidations(message: unknown): { marketId: string; liquidation: RawLiquidation }[] {
  const data = (message as { data?: unknown } | null)?.data;
  const rows = Array.isArray(data) ? data : data && typeof data === 'object' ? [data] : [];
  return rows.map((row: Record<string, unknown>) => {
    const positionSide = String(row.S ?? row.side ?? '');
    const orderSide = positionSide === 'Buy' ? 'sell' : positionSide === 'Sell' ? 'buy' : positionSide;
    return {
      marketId: String(row.s ?? row.symbol ?? ''),
      liquidation: {
        side: orderSide,
        price: Number(row.p ?? row.price),
        amount: Number(row.v ?? row.size),
        eventTimeMs: Number(row.T ?? row.updatedTime),
      },
    };
  });
}
