import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMarketModel } from '../market/index.js';
import type { LiquidationEvent } from '../market/types.js';
import { binanceusdm } from './binanceusdm.js';
import { bybit } from './bybit.js';
import type { VenueContext } from './types.js';

const model = createMarketModel({ seed: 5, symbolCount: 3 });
const ctx = { model, nowMs: 1_733_270_460_000, openInterestRetentionMs: 0 } as unknown as VenueContext;
const [a, b] = model.symbols.map((s) => s.id);
const T = 1_733_270_400_000; // a whole second

function ev(symbol: string, timeMs: number, price: number): LiquidationEvent {
  return { symbol, timeMs, side: 'SELL', price, averagePrice: price - 1, qty: 1 };
}

describe('liquidation snapshots', () => {
  // Binance USDⓈ-M docs, "Liquidation Order Streams": "Only the latest one liquidation order
  // within 1000ms will be pushed as the snapshot."
  it('Binance pushes the latest liquidation per symbol per second, not every one', () => {
    const events = [
      ev(a!, T + 100, 100),
      ev(b!, T + 150, 200),
      ev(a!, T + 400, 101),
      ev(a!, T + 999, 102),
      ev(b!, T + 1_000, 201),
      ev(a!, T + 1_500, 103),
    ];
    const topic = { kind: 'liquidation' as const, raw: '!forceOrder@arr', symbol: '*' };
    const sent = binanceusdm
      .liquidationMessages(topic, events, T + 2_000, ctx)
      .map((m) => JSON.parse(m) as { o: { s: string; ap: string; T: number } });
    assert.deepEqual(
      sent.map((m) => [m.o.T, Number(m.o.ap)]),
      [
        [T + 150, 199],
        [T + 999, 101],
        [T + 1_000, 200],
        [T + 1_500, 102],
      ],
    );
  });

  it('Bybit allLiquidation pushes every liquidation; its deprecated topic one per second', () => {
    const events = [ev(a!, T + 100, 100), ev(a!, T + 400, 101), ev(a!, T + 999, 102)];
    const id = model.spec(a!).id;
    const all = bybit.liquidationMessages(
      { kind: 'liquidation', raw: `allLiquidation.${id}`, symbol: a! },
      events,
      T + 1_000,
      ctx,
    );
    const data = all.flatMap((m) => (JSON.parse(m) as { data: { T: number }[] }).data.map((d) => d.T));
    assert.deepEqual(data, [T + 100, T + 400, T + 999]);
    const old = bybit.liquidationMessages(
      { kind: 'liquidation', raw: `liquidation.${id}`, symbol: a! },
      events,
      T + 1_000,
      ctx,
    );
    assert.deepEqual(
      old.map((m) => (JSON.parse(m) as { data: { updatedTime: number } }).data.updatedTime),
      [T + 999],
    );
  });
});
