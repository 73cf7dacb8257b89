import type { RawLiquidation } from '../domain/normalize.js';

/**
 * Binance USDⓈ-M `forceOrder` stream message:
 * `{"e":"forceOrder","E":…,"o":{"s":"BTCUSDT","S":"SELL","q":"0.014","p":"…","ap":"…","X":"FILLED","z":"0.014","T":…}}`.
 * `S` is the side of the liquidation ORDER: SELL closes a long position, BUY a short.
 * Price: the average fill price `ap` when present, else the order price `p`;
 * amount: the filled quantity `z`, else the order quantity `q`; time: trade time `T`.
 */
export function binanceLiquidations(message: unknown): { marketId: string; liquidation: RawLiquidation }[] {
  const o = (message as { o?: Record<string, unknown> } | null)?.o;
  if (!o || typeof o !== 'object') return [];
  const ap = Number(o.ap);
  const z = Number(o.z);
  return [
    {
      marketId: String(o.s ?? ''),
      liquidation: {
        side: String(o.S ?? ''),
        price: Number.isFinite(ap) && ap > 0 ? ap : Number(o.p),
        amount: Number.isFinite(z) && z > 0 ? z : Number(o.q),
        eventTimeMs: Number(o.T),
      },
    },
  ];
}
