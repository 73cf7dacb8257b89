import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '@perpflow/runtime';
import type { CcxtExchange } from '../../adapters/exchange.js';
import type { RecordSink } from '../../adapters/kafka-sink.js';
import { createIngestMetrics } from '../../metrics.js';
import { RateGate } from '../gate.js';
import { CandleFeed } from './candles.js';
import { LiveContext } from './context.js';
import { memoryCheckpoints } from './test-support.js';

const MIN = 60_000;
const SYMBOL = 'BTC/USDT:USDT';

describe('live REST candles', () => {
  it('does not publish the open candle of an answer that arrives just after its close', async () => {
    const close = 29_916_667 * MIN; // a bar close on the minute grid (2026-11-18)
    let now = close - 5; // the request goes out 5 ms before the close ...
    const ex = {
      id: 'binanceusdm',
      last_response_headers: {},
      fetchOHLCV: async () => {
        now = close + 15; // ... and its answer is parsed 15 ms after it
        return [
          [close - 2 * MIN, 100, 102, 99, 101, 5],
          [close - MIN, 101, 103, 100, 102, 3], // still open when the exchange answered
        ];
      },
    } as unknown as CcxtExchange;
    const published: { eventTimeMs: number; closed: boolean }[] = [];
    const sink: RecordSink = {
      publish: async (_feed, records) => {
        published.push(...(records as unknown as { eventTimeMs: number; closed: boolean }[]));
      },
      deadLetter: async () => {},
    };
    const checkpoints = memoryCheckpoints();
    const candles = new CandleFeed(
      new LiveContext(
        {
          ex,
          exchange: 'binanceusdm',
          symbols: [SYMBOL],
          sink,
          checkpoints,
          metrics: createIngestMetrics(),
          logger: createLogger({ service: 'test', level: 'fatal' }),
          now: () => now,
          gate: new RateGate(() => now),
        },
        {
          timeframe: '1m',
          feeds: new Set(['ohlcv']),
          candleDelayMs: 1_500,
          oiPollMs: MIN,
          fundingPollMs: MIN,
          fundingHistoryPollMs: MIN,
          candleSource: 'websocket',
          gapCheckMs: 10_000,
          concurrency: 1,
        },
      ),
    );
    await candles.pollCandles(SYMBOL);
    assert.deepEqual(
      published.map((c) => [c.eventTimeMs, c.closed]),
      [[close - 2 * MIN, true]],
      'only the candle that had closed when the request was sent',
    );
  });
});
