import type { RawKline, RawLiquidation } from '../domain/normalize.js';

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

/**
 * Binance USDⓈ-M `<symbol>@kline_<interval>` message:
 * `{"e":"kline","E":…,"s":"BTCUSDT","k":{"t":…,"T":…,"s":"BTCUSDT","i":"1m","o":"…","c":"…","h":"…","l":"…","v":"…","x":false,…}}`.
 * `k.x` is true only on the one message that carries the candle's final values;
 * ccxt's parsed row drops it, which is why we read the wire message.
 */
export function binanceKlines(message: unknown): RawKline[] {
  const m = message as { e?: unknown; k?: Record<string, unknown> } | null;
  const k = m?.k;
  if (!k || typeof k !== 'object' || m?.e !== 'kline') return [];
  return [
    {
      marketId: String(k.s ?? ''),
      interval: String(k.i ?? ''),
      row: [Number(k.t), Number(k.o), Number(k.h), Number(k.l), Number(k.c), Number(k.v)],
      closed: k.x === true,
    },
  ];
}
