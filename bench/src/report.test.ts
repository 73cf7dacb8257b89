import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeFigure, meets, percentile, renderMarkdown, renderTable } from './report.js';

describe('percentile', () => {
  it('takes the nearest rank of unsorted samples', () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    assert.equal(percentile(xs, 50), 5);
    assert.equal(percentile(xs, 99), 10);
    assert.equal(percentile(xs, 10), 1);
    assert.equal(percentile([42], 99), 42);
    assert.equal(percentile([], 50), null);
  });
});

describe('makeFigure', () => {
  it('computes the ratio to the reference and judges the target', () => {
    const f = makeFigure('aligner', {
      name: 'through Kafka',
      value: 50_000,
      unit: 'records/s',
      reference: { name: 'kafka-consumer-perf-test', value: 200_000 },
      target: { op: '>=', value: 100_000 },
    });
    assert.equal(f.ratio, 0.25);
    assert.equal(f.met, false);
    assert.ok(f.cpus >= 1);
  });
  it('leaves the ratio null when the reference failed, and the verdict unknown without a value', () => {
    const f = makeFigure('live', {
      name: 'p99',
      value: null,
      unit: 'ms',
      reference: { name: 'x', value: null },
      target: { op: '<=', value: 1_000 },
    });
    assert.equal(f.ratio, null);
    assert.equal(f.met, null);
    assert.equal(meets(900, { op: '<=', value: 1_000 }), true);
  });
});

describe('tables', () => {
  it('prints one row per figure with the reference, the ratio and the verdict', () => {
    const figs = [
      makeFigure('windower', {
        name: 'to Parquet',
        value: 400_000,
        unit: 'rows/s',
        reference: { name: 'DuckDB', value: 500_000 },
        target: { op: '>=', value: 300_000 },
      }),
    ];
    const text = renderTable(figs).split('\n');
    assert.equal(text.length, 3);
    assert.match(
      text[2] ?? '',
      /windower\s+to Parquet\s+400,000\s+rows\/s\s+DuckDB\s+500,000\s+0\.80\s+>= 300,000\s+yes/,
    );
    assert.match(
      renderMarkdown(figs),
      /\| windower \| to Parquet \| 400,000 \| rows\/s \| DuckDB \| 500,000 \| 0\.80 \| >= 300,000 \| yes \|/,
    );
  });
});
