import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binanceLiquidations, binanceusdm } from './binanceusdm.js';
import { bybit, bybitLiquidations } from './bybit.js';

/**
 * The liquidation mappers on messages the venues sent or document (facts, quoted):
 * - Binance: a live `forceOrder` message posted on dev.binance.vision ("What exactly
 *   forceOrder stream mean?", thread 10607), where the order price `p` and the average
 *   fill price `ap` differ;
 * - Bybit: the response example of "All Liquidation" (bybit-exchange.github.io/docs/v5/
 *   websocket/public/all-liquidation), `S` being the position side.
 */
describe('liquidation mappers', () => {
  it('Binance: the average fill price, the filled quantity, trade time, the order side', () => {
    const message = {
      e: 'forceOrder',
      E: 1650898329201,
      o: {
        s: 'BTCUSDT',
        S: 'SELL',
        o: 'LIMIT',
        f: 'IOC',
        q: '0.288',
        p: '38886.54',
        ap: '39021.00',
        X: 'FILLED',
        l: '0.288',
        z: '0.288',
        T: 1650898329196,
      },
    };
    assert.deepEqual(binanceLiquidations(message), [
      {
        marketId: 'BTCUSDT',
        liquidation: { side: 'SELL', price: 39021, amount: 0.288, eventTimeMs: 1650898329196 },
      },
    ]);
    assert.equal(binanceusdm.liquidations.fromMessage, binanceLiquidations);
    assert.equal(binanceusdm.liquidations.subscription, 'all-market');
  });

  it('Binance: the order price and quantity when no fill is reported', () => {
    const [row] = binanceLiquidations({
      e: 'forceOrder',
      E: 1,
      o: { s: 'ETHUSDT', S: 'BUY', q: '2', p: '1800.5', ap: '0', z: '0', T: 5 },
    });
    assert.deepEqual(row?.liquidation, { side: 'BUY', price: 1800.5, amount: 2, eventTimeMs: 5 });
    assert.deepEqual(binanceLiquidations({ e: 'kline' }), [], 'not a liquidation');
    assert.deepEqual(binanceLiquidations(null), []);
  });

  it('Bybit: the position side turned into the order side (a long liquidated = a sell order)', () => {
    const message = {
      topic: 'allLiquidation.ROSEUSDT',
      type: 'snapshot',
      ts: 1739502303204,
      data: [{ T: 1739502302929, s: 'ROSEUSDT', S: 'Sell', v: '20000', p: '0.04499' }],
    };
    assert.deepEqual(bybitLiquidations(message), [
      {
        marketId: 'ROSEUSDT',
        liquidation: { side: 'buy', price: 0.04499, amount: 20000, eventTimeMs: 1739502302929 },
      },
    ]);
    const [long] = bybitLiquidations({ ...message, data: [{ ...message.data[0], S: 'Buy' }] });
    assert.equal(long?.liquidation.side, 'sell');
    assert.equal(bybit.liquidations.subscription, 'per-symbol');
    assert.deepEqual(bybitLiquidations({ topic: 'allLiquidation.X', data: [] }), []);
  });
});
