import type { LiquidationEvent } from '../market/types.js';

/**
 * Per symbol, the latest liquidation of each second of event time, in time order: what a
 * stream that pushes "only the latest one liquidation order within 1000ms" sends (Binance
 * USDⓈ-M `!forceOrder@arr` and `<symbol>@forceOrder`, "Liquidation Order Streams"; Bybit's
 * deprecated `liquidation.<SYMBOL>`, "only pushes 1 liquidation per second"). The streams
 * hand a venue whole seconds of events per push, so no second is split across two pushes.
 */
export function latestPerSymbolPerSecond(events: readonly LiquidationEvent[]): LiquidationEvent[] {
  const latest = new Map<string, LiquidationEvent>();
  for (const ev of events) {
    const key = `${ev.symbol}|${Math.floor(ev.timeMs / 1000)}`;
    const kept = latest.get(key);
    if (kept === undefined || ev.timeMs >= kept.timeMs) latest.set(key, ev);
  }
  return [...latest.values()].sort((a, b) => a.timeMs - b.timeMs);
}
