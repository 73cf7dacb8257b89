import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlignInput, AlignStream, parseAlignConfig } from '@perpflow/align';
import { archive, BAR, MIN, PREFIX, T } from '../test-support/raw-archive.js';
import { describeTrace, traceBar } from './trace.js';

const align = parseAlignConfig({});

describe('perpflow lineage: tracing one bar to its raw records', () => {
  it('names per feed the deciding record, every copy, the kept receipt, and the dead letters of the bar', async () => {
    const { a, badLiqOffset } = archive();
    const t = await traceBar(
      a.get,
      PREFIX,
      { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m', tsMs: BAR },
      align,
    );
    const l = t.lineage;
    assert.deepEqual(
      l.ohlcv.map((x) => [x.input.record.closed, x.input.record.volume, x.input.origin.offset, x.kept]),
      [
        [true, 7, '2', true],
        [true, 7, '3', false],
      ],
    );
    assert.deepEqual(
      l.openInterest.map((x) => [x.input.record.openInterest, x.kept]),
      [[11, true]],
    );
    assert.deepEqual(
      l.fundingSettled.map((x) => [x.input.record.fundingRate, x.input.record.fundingTimeMs]),
      [[0.0001, T]],
    );
    assert.deepEqual(
      l.liquidations.map((x) => [x.input.record.amount, x.input.origin.offset, x.kept]),
      [
        [1, '0', true],
        [1, '1', false],
        [2, '2', true],
      ],
    );
    assert.deepEqual(
      t.deadLetters.map((d) => [d.ruleId, d.source.offset, d.eventTimeMs]),
      [['liq.amount_outlier', badLiqOffset, BAR + 30_000]],
    );
    assert.equal(t.rejectedInputs, 1);
    assert.equal(t.contractFailures, 1, "the liquidation with side 'up'");
    assert.ok(
      l.ohlcv.every((x) =>
        /^lineage-unit\/raw\/feed=ohlcv\/exchange=binanceusdm\/date=2024-03-01\//.test(
          x.input.origin.objectKey,
        ),
      ),
    );
    // The engine, given the same records in receive order, makes the bar the lineage explains.
    const inputs: AlignInput[] = [...l.ohlcv, ...l.openInterest, ...l.fundingSettled, ...l.liquidations]
      .map((x) => ({ feed: x.input.feed, record: x.input.record }) as AlignInput)
      .sort((x, y) => x.record.receivedAtMs - y.record.receivedAtMs);
    const s = AlignStream.create({ exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT' }, align);
    const bars = s.ingestBatch(inputs).bars.concat(s.advanceTo(BAR + 10 * MIN));
    const bar = bars.filter((b) => b.eventTimeMs === BAR).at(-1)!;
    assert.deepEqual(
      [
        bar.volume,
        bar.openInterest,
        bar.fundingRate,
        bar.liqCount,
        bar.liqLongNotional! + bar.liqShortNotional!,
      ],
      [
        l.ohlcv.find((x) => x.kept)!.input.record.volume,
        l.openInterest[0]!.input.record.openInterest,
        l.fundingSettled[0]!.input.record.fundingRate,
        l.liquidations.filter((x) => x.kept).length,
        l.liquidations
          .filter((x) => x.kept)
          .reduce((n, x) => n + x.input.record.price * x.input.record.amount, 0),
      ],
    );
    const text = describeTrace(t).join('\n');
    assert.match(text, /kept closed o \S+ h \S+ l \S+ c \S+ v 7/);
    assert.match(text, /liquidations: event time in \[open, close\): 2 distinct, 3 copies/);
    assert.match(text, /liq\.amount_outlier \(aligner\)/);
  });

  it('as of a receive time, leaves out what came later', async () => {
    const { a } = archive();
    const t = await traceBar(
      a.get,
      PREFIX,
      { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m', tsMs: BAR, asOfMs: BAR + 35_000 },
      align,
    );
    assert.deepEqual(
      t.lineage.ohlcv.map((x) => [x.input.record.closed, x.input.record.volume]),
      [[false, 1]],
      'only the provisional candle was known',
    );
    assert.deepEqual(
      t.lineage.liquidations.map((x) => x.input.record.amount),
      [1, 1, 2],
    );
    assert.equal(t.deadLetters.length, 0, 'the dead letter came at +40 s');
    assert.ok(t.notYetKnown > 0);
  });

  it('stops on an object whose bytes are not what its index says, naming it', async () => {
    const { a } = archive();
    const key = [...a.objects.keys()].find((k) => k.includes('feed=funding') && k.endsWith('.parquet'))!;
    const bytes = a.objects.get(key)!;
    a.objects.set(key, bytes.subarray(0, bytes.length - 8));
    await assert.rejects(
      traceBar(
        a.get,
        PREFIX,
        { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m', tsMs: BAR },
        align,
      ),
      (err: Error) =>
        err.message.includes(key) && /expected sha256 [0-9a-f]{64}, found [0-9a-f]{64}/.test(err.message),
    );
  });

  it('refuses a time off the timeframe grid', async () => {
    const { a } = archive();
    await assert.rejects(
      traceBar(
        a.get,
        PREFIX,
        { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m', tsMs: BAR + 1 },
        align,
      ),
      /not on the 1m grid/,
    );
  });
});
