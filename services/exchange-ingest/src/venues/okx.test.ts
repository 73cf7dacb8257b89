import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OKX_BAN,
  OKX_PAGE_LIMITS,
  OKX_RATE_BUDGET,
  okxFundingRateHistoryParams,
  okxKlines,
  okxLiquidations,
  okxOneSideOpenInterest,
} from './okx.js';

// Wire messages as recorded in OKX's docs (www.okx.com/docs-v5/en/, 2026-07 copies) and in
// ccxt's static/response/okx.json (commit 02140ad047b4047caf72b2e8a98f99e3297a5398); the
// simulator keeps the same payloads in services/exchange-sim/src/venues/recorded/okx.json.

/** Docs, "WS / Candlesticks channel" push example (a BTC-USDT spot candle1D, confirm "0"). */
const CANDLE_PUSH = {
  arg: { channel: 'candle1D', instId: 'BTC-USDT' },
  data: [
    [
      '1597026383085',
      '8533.02',
      '8553.74',
      '8527.17',
      '8548.26',
      '45247',
      '529.5858061',
      '5529.5858061',
      '0',
    ],
  ],
};

/** Docs, "Liquidation orders channel" push example. */
const LIQUIDATION_PUSH = {
  id: '1512',
  arg: { channel: 'liquidation-orders', instType: 'SWAP' },
  data: [
    {
      details: [
        {
          bkLoss: '0',
          bkPx: '0.007831',
          ccy: '',
          posSide: 'short',
          side: 'buy',
          sz: '13',
          ts: '1692266434010',
        },
      ],
      instFamily: 'IOST-USDT',
      instId: 'IOST-USDT-SWAP',
      instType: 'SWAP',
      uly: 'IOST-USDT',
    },
  ],
};

/** ccxt's recorded fetchOpenInterest answer for BTC/USDT:USDT (parsed by ccxt). */
const RECORDED_OI = {
  openInterestAmount: 2663107.2999999984,
  info: {
    instId: 'BTC-USDT-SWAP',
    instType: 'SWAP',
    oi: '2663107.29999999861',
    oiCcy: '26631.0729999999861',
    oiUsd: '1676426045.349999124995',
    ts: '1728728314766',
  },
};

describe('okx mappers read the wire', () => {
  it('candles: confirm "1" marks the closed candle; the volume is volCcy (base coin); HK-time bars keep their name', () => {
    assert.deepEqual(okxKlines(CANDLE_PUSH), [
      {
        marketId: 'BTC-USDT',
        interval: '1D',
        row: [1597026383085, 8533.02, 8553.74, 8527.17, 8548.26, 529.5858061],
        closed: false,
      },
    ]);
    const closed = {
      arg: { channel: 'candle1m', instId: 'BTC-USDT-SWAP' },
      data: [['1700000000000', '1', '3', '0.5', '2', '1000', '10', '20', '1']],
    };
    assert.deepEqual(okxKlines(closed), [
      { marketId: 'BTC-USDT-SWAP', interval: '1m', row: [1_700_000_000_000, 1, 3, 0.5, 2, 10], closed: true },
    ]);
    assert.equal(okxKlines({ ...closed, arg: { channel: 'candle1H', instId: 'X' } })[0]?.interval, '1h');
    assert.equal(okxKlines({ ...closed, arg: { channel: 'candle1Dutc', instId: 'X' } })[0]?.interval, '1d');
    assert.deepEqual(okxKlines(LIQUIDATION_PUSH), []);
    assert.deepEqual(okxKlines('pong'), []);
  });

  it('liquidations: side is already the order side, bkPx the price, sz contracts × ctVal the amount', () => {
    assert.deepEqual(
      okxLiquidations(LIQUIDATION_PUSH, (id) => (id === 'IOST-USDT-SWAP' ? 1000 : undefined)),
      [
        {
          marketId: 'IOST-USDT-SWAP',
          liquidation: { side: 'buy', price: 0.007831, amount: 13_000, eventTimeMs: 1692266434010 },
        },
      ],
    );
    // Without the contract value the amount is NaN (the contract rejects it), never contracts as coins.
    assert.ok(Number.isNaN(okxLiquidations(LIQUIDATION_PUSH)[0]?.liquidation.amount));
    // Every detail counts (ccxt keeps details[0] only); a missing side comes from posSide.
    const two = {
      arg: { channel: 'liquidation-orders', instType: 'SWAP' },
      data: [
        {
          instId: 'BTC-USDT-SWAP',
          details: [
            { bkPx: '60000', posSide: 'long', side: 'sell', sz: '2', ts: '1' },
            { bkPx: '60001', posSide: 'long', sz: '3', ts: '2' },
          ],
        },
      ],
    };
    assert.deepEqual(
      okxLiquidations(two, () => 0.01).map((x) => [
        x.liquidation.side,
        x.liquidation.amount,
        x.liquidation.eventTimeMs,
      ]),
      [
        ['sell', 0.02, 1],
        ['sell', 0.03, 2],
      ],
    );
    assert.deepEqual(okxLiquidations(CANDLE_PUSH), []);
  });

  it("open interest: ccxt's amount is contracts; one side in coins is oiCcy", () => {
    assert.equal(okxOneSideOpenInterest(RECORDED_OI), 26631.072999999986); // ccxt parsedResponse.baseVolume
    assert.equal(okxOneSideOpenInterest({ openInterestAmount: 500, info: {} }, 0.01), 5);
    assert.equal(okxOneSideOpenInterest({ openInterestAmount: 500, info: {} }), undefined);
  });

  it('facts for the planner: limits, budget, the 50011 signal, the funding page bound', () => {
    assert.deepEqual(OKX_PAGE_LIMITS, { ohlcv: 300, openInterestHistory: 100, fundingHistory: 400 });
    assert.equal(OKX_RATE_BUDGET.cost.fetchOHLCV, 0.5);
    assert.ok(OKX_BAN.pattern.test('okx {"msg":"Too Many Requests","code":"50011"}'));
    assert.ok(!OKX_BAN.pattern.test('okx {"code":"51001","msg":"Instrument ID doesn\'t exist."}'));
    assert.deepEqual(okxFundingRateHistoryParams(1_000, 3, 100), { after: 1_300 });
  });
});
