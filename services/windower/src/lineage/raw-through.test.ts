import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAlignConfig } from '@perpflow/align';
import { type RawPosition, sampleAlignedBar, TOPICS } from '@perpflow/contracts';
import { prepareWindowWrite, serializeSeriesIndex, upsertSeriesIndex } from '@perpflow/dataset';
import { archive, BAR, type MemoryArchive, MIN, PREFIX, T } from '../test-support/raw-archive.js';
import { type LineageRules, lineageOf } from './cli.js';
import type { RawThroughCheck, RawThroughFinding } from './raw-through.js';
import { RAW_THROUGH_EXIT_CODE } from './raw-through.js';

const VERSION = 'dv-0123456789abcdef';
const RULES: LineageRules = { align: parseAlignConfig({}), source: 'test', version: VERSION, tree: PREFIX };
const REQUEST = { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m' as const, tsMs: BAR };
const MANIFEST_KEY =
  'lineage-unit/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/date=2024-03-01/part-1709251200000.manifest.json';

/**
 * The windower's write of the day window holding the traced bar (object, manifest, series
 * index), with the rawThrough given (none when null; rawInputs makes it a rebuilt window).
 */
function writeWindow(
  a: MemoryArchive,
  rawThrough: RawPosition[] | null,
  o: { closed?: boolean; rawInputs?: { key: string; sha256: string }[] } = {},
): void {
  const w = prepareWindowWrite({
    prefix: PREFIX,
    window: { exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', timeframe: '1m', unit: 'day', startMs: T },
    latest: [sampleAlignedBar({ eventTimeMs: BAR, knownAtMs: BAR + MIN + 300 })],
    superseded: [],
    kafkaOffsets: [],
    watermarkMs: BAR,
    closed: o.closed ?? true,
    writtenAtMs: BAR + 2 * MIN,
    datasetVersion: VERSION,
    rawThrough,
    ...(o.rawInputs ? { rawInputs: o.rawInputs } : {}),
  });
  for (const p of w.puts) a.objects.set(p.key, p.body);
  a.objects.set(
    `${PREFIX}/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT/_index.json`,
    serializeSeriesIndex(upsertSeriesIndex(null, w.manifest, w.manifestKey)),
  );
}

const at = (topic: string, offset: number): RawPosition => ({ topic, partition: 0, offset: String(offset) });

/** Past every offset the fixture archive holds (6 candles, 3 open interests, 1 settlement, 6 liquidations). */
const PAST_ALL = [
  at(TOPICS.raw.funding, 1),
  at(TOPICS.raw.liquidation, 6),
  at(TOPICS.raw.ohlcv, 6),
  at(TOPICS.raw.open_interest, 3),
];

interface LineageJson {
  window: {
    manifestKey: string;
    manifest: { datasetVersion: string | null; rawThrough: RawPosition[] | null } | null;
  };
  rawThroughCheck: RawThroughCheck;
}

async function run(a: MemoryArchive) {
  const out = await lineageOf(a.get, PREFIX, REQUEST, RULES);
  return { ...out, text: out.lines.join('\n'), json: out.json as LineageJson };
}

const place = (f: RawThroughFinding) =>
  `${f.feed} ${f.record.topic}/${f.record.partition}@${f.record.offset}`;

describe("perpflow lineage: the deciding records against the window's rawThrough", () => {
  it('names the window, its version and rawThrough, and passes when every deciding record lies below it', async () => {
    const { a } = archive();
    writeWindow(a, PAST_ALL);
    const r = await run(a);
    assert.equal(r.exitCode, 0, r.text);
    assert.equal(
      r.lines[1],
      `window ${MANIFEST_KEY}: version ${VERSION}, closed, raw through ` +
        'perpflow.raw.funding.v1:0:1, perpflow.raw.liquidation.v1:0:6, perpflow.raw.ohlcv.v1:0:6, perpflow.raw.open_interest.v1:0:3',
    );
    assert.equal(r.json.window.manifestKey, MANIFEST_KEY);
    assert.equal(r.json.window.manifest?.datasetVersion, VERSION);
    assert.deepEqual(r.json.window.manifest?.rawThrough, PAST_ALL);
    const c = r.json.rawThroughCheck;
    assert.equal(c.status, 'checked');
    assert.deepEqual(
      c.records.map((x) => [x.feed, x.offset, x.rawThrough, x.below]),
      [
        ['ohlcv', '2', '6', true],
        ['ohlcv', '3', '6', true],
        ['open_interest', '1', '3', true],
        ['funding settled', '0', '1', true],
        ['liquidation', '0', '6', true],
        ['liquidation', '1', '6', true],
        ['liquidation', '2', '6', true],
      ],
    );
    assert.deepEqual(c.findings, []);
    const recordLines = r.lines.filter((l) => /^ {4}(kept|copy) /.test(l));
    assert.equal(recordLines.length, 7);
    assert.ok(
      recordLines.every((l) => /; below raw through \d+$/.test(l)),
      recordLines.join('\n'),
    );
    assert.match(r.text, /raw through: all 7 records above lie below the window's rawThrough/);
    assert.doesNotMatch(r.text, /FINDING/);
  });

  it('reports a deciding record at rawThrough, or on a topic-partition it does not name, as a finding with exit 4', async () => {
    const { a } = archive();
    writeWindow(
      a,
      [at(TOPICS.raw.liquidation, 2), at(TOPICS.raw.ohlcv, 6), at(TOPICS.raw.open_interest, 3)],
      { closed: false },
    );
    const r = await run(a);
    assert.equal(RAW_THROUGH_EXIT_CODE, 4);
    assert.equal(r.exitCode, RAW_THROUGH_EXIT_CODE);
    const c = r.json.rawThroughCheck;
    assert.deepEqual(c.findings.map(place), [
      'funding settled perpflow.raw.funding.v1/0@0',
      'liquidation perpflow.raw.liquidation.v1/0@2',
    ]);
    assert.deepEqual(
      c.findings.map((f) => f.rawThrough),
      [null, '2'],
    );
    assert.match(
      r.text,
      /raw through: 2 deciding record\(s\) not below the window's rawThrough: the raw archive and the dataset disagree \(exit 4\); the window is open/,
    );
    assert.match(
      r.text,
      /FINDING funding settled perpflow\.raw\.funding\.v1\/0@0 in \S+: rawThrough names no perpflow\.raw\.funding\.v1:0/,
    );
    assert.match(
      r.text,
      /FINDING liquidation perpflow\.raw\.liquidation\.v1\/0@2 in \S+: at or above raw through 2/,
    );
    assert.match(r.text, /v 7, received .*perpflow\.raw\.ohlcv\.v1\/0@2 in .*; below raw through 6/);
    assert.match(r.text, /2 @ .*perpflow\.raw\.liquidation\.v1\/0@2 in .*; NOT below raw through 2/);
  });

  it('takes a deciding record as applied when one copy lies below: a later re-delivery is no finding', async () => {
    const { a } = archive();
    // The closed candle is at offset 2, its re-delivery at 3: rawThrough 3 holds the first only.
    writeWindow(a, [...PAST_ALL.filter((p) => p.topic !== TOPICS.raw.ohlcv), at(TOPICS.raw.ohlcv, 3)]);
    const r = await run(a);
    assert.equal(r.exitCode, 0, r.text);
    assert.deepEqual(
      r.json.rawThroughCheck.records
        .filter((x) => x.feed === 'ohlcv')
        .map((x) => [x.offset, x.kept, x.below]),
      [
        ['2', true, true],
        ['3', false, false],
      ],
    );
    assert.deepEqual(r.json.rawThroughCheck.findings, []);
  });

  it('says rawThrough is not recorded when the window was written by an older aligner, and checks nothing', async () => {
    const { a } = archive();
    writeWindow(a, null);
    const r = await run(a);
    assert.equal(r.exitCode, 0);
    assert.equal(
      r.lines[1],
      `window ${MANIFEST_KEY}: version ${VERSION}, closed, raw through: not recorded (window written by an older aligner)`,
    );
    assert.equal(r.json.window.manifest?.rawThrough, null);
    assert.deepEqual(r.json.rawThroughCheck, { status: 'not-recorded', records: [], findings: [] });
    assert.doesNotMatch(r.text, /below raw through|FINDING/);

    const rebuilt = archive().a;
    writeWindow(rebuilt, null, { rawInputs: [{ key: `${PREFIX}/raw/x.parquet`, sha256: 'a'.repeat(64) }] });
    assert.match(
      (await run(rebuilt)).lines[1]!,
      /raw through: not recorded \(a rebuilt window: it names its 1 archive objects, rawInputs\)$/,
    );
  });

  it('says there is no window manifest when the windower never wrote the window, and still traces the bar', async () => {
    const { a } = archive();
    const r = await run(a);
    assert.equal(r.exitCode, 0);
    assert.equal(
      r.lines[1],
      `window ${MANIFEST_KEY}: no window manifest (the windower has not written it here)`,
    );
    assert.equal(r.json.window.manifest, null);
    assert.equal(r.json.rawThroughCheck.status, 'no-manifest');
    assert.match(r.text, /liquidations: event time in \[open, close\): 2 distinct, 3 copies/);
  });
});
