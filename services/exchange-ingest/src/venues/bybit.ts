import type { RawKline, RawLiquidation } from '../domain/normalize.js';

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

/**
 * Bybit v5 `kline.<interval>.<SYMBOL>` message:
 * `{"topic":"kline.1.BTCUSDT","type":"snapshot","ts":…,"data":[{"start":…,"end":…,"interval":"1","open":"…","close":"…","high":"…","low":"…","volume":"…","confirm":false,…}]}`.
 * `confirm: true` marks the candle's final values. Bybit intervals are minutes ("1", "60") or "D".
 */
export function bybitKlines(message: unknown): RawKline[] {
  const m = message as { topic?: unknown; data?: unknown } | null;
  const topic = typeof m?.topic === 'string' ? m.topic : '';
  if (!topic.startsWith('kline.')) return [];
  const parts = topic.split('.');
  const interval = parts[1] ?? '';
  const marketId = parts.at(-1) ?? '';
  const rows = Array.isArray(m?.data) ? (m.data as Record<string, unknown>[]) : [];
  return rows.map((d) => ({
    marketId,
    interval: /^[0-9]+$/.test(interval)
      ? Number(interval) % 60 === 0
        ? `${Number(interval) / 60}h`
        : `${interval}m`
      : interval === 'D'
        ? '1d'
        : interval,
    row: [Number(d.start), Number(d.open), Number(d.high), Number(d.low), Number(d.close), Number(d.volume)],
    closed: d.confirm === true,
  }));
}
