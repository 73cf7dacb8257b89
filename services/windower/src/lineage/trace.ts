import type { AlignConfig } from '@perpflow/align';
import {
  type ArchiveFeed,
  type ArchiveGet,
  type ArchiveRow,
  listArchiveObjects,
  readArchiveObject,
  utcDay,
} from '@perpflow/archive';
import {
  type DeadLetter,
  decodeRecord,
  FEED_RECORD_KIND,
  type Feed,
  type Timeframe,
  timeframeMs,
} from '@perpflow/contracts';
import { type BarLineage, type LineageInput, type RowOrigin, selectBarLineage } from './select.js';

/**
 * `perpflow lineage`: the raw records that decided one aligned bar, read back from the
 * raw archive (day indexes, sha256-checked objects), chosen by the rules of
 * packages/align/README.md (select.ts), with the dead letters of the bar's time.
 * Pure but for `get` (S3 bound by the caller).
 */

const DAY_MS = 86_400_000;

export interface TraceRequest {
  exchange: string;
  symbol: string;
  timeframe: Timeframe;
  /** The bar's open time (integer ms UTC, on the timeframe's grid). */
  tsMs: number;
  /** What the engine knew at this receive time (our clock): rows received later are left out. */
  asOfMs?: number;
}

/** A dead letter of the bar's series whose original record's event time falls in the bar. */
export interface TracedDeadLetter {
  ruleId: string;
  message: string;
  stage: DeadLetter['stage'];
  /** The rejected record's place in its raw topic. */
  source: DeadLetter['source'];
  deadLetteredAtMs: number;
  /** The rejected record's event time (null when its payload does not carry one). */
  eventTimeMs: number | null;
  /** Where the dead letter itself is archived. */
  origin: RowOrigin;
}

export interface BarTrace {
  request: TraceRequest;
  closeMs: number;
  /** Raw records with event time in [lookbackFromMs, closeMs] were read (as-of feeds look back). */
  lookbackFromMs: number;
  /** Days whose dead letters were read: from the bar's day to its close plus the revision horizon. */
  deadLetterDays: string[];
  lineage: BarLineage;
  deadLetters: TracedDeadLetter[];
  /** Rows of this series left out because a stage dead-lettered them (they decided nothing). */
  rejectedInputs: number;
  /** Rows of this series that fail their contract (archived raw, never aligned). */
  contractFailures: number;
  /** Rows received after asOfMs, left out. */
  notYetKnown: number;
  scanned: { objects: number; rows: number };
  /** (feed, day) pairs with no day index: nothing archived there. */
  daysWithoutIndex: string[];
}

const FEEDS: Feed[] = ['ohlcv', 'open_interest', 'funding', 'liquidation'];

/**
 * How far back as-of inputs are read: the open-interest staleness bound, and two funding
 * intervals plus the grace (a settlement older than that is stale in the bar anyway; the
 * output says "none within the lookback" rather than guess).
 */
export function lookbackMs(align: AlignConfig, tfMs: number): number {
  return Math.max(
    tfMs,
    align.maxOpenInterestStalenessMs,
    2 * (align.fundingIntervalMs + align.fundingGraceMs),
  );
}

const originOf = (r: ArchiveRow, key: string, sha256: string): RowOrigin => ({
  topic: r.topic,
  partition: r.partition,
  offset: r.offset,
  kafkaTimestampMs: r.kafkaTimestampMs,
  objectKey: key,
  objectSha256: sha256,
});

const asBuffer = (v: Uint8Array | null): Buffer | null =>
  v === null ? null : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** The event time a rejected record's payload carries (settlement time for settled funding). */
function payloadEventTime(letter: DeadLetter): number | null {
  if (letter.payloadEncoding !== 'utf8' || letter.payloadTruncated) return null;
  try {
    const o = JSON.parse(letter.payload) as Record<string, unknown>;
    const t = o.kind === 'settled' ? o.fundingTimeMs : (o.openTimeMs ?? o.eventTimeMs);
    return typeof t === 'number' && Number.isSafeInteger(t) ? t : null;
  } catch {
    return null;
  }
}

export async function traceBar(
  get: ArchiveGet,
  prefix: string,
  request: TraceRequest,
  align: AlignConfig,
): Promise<BarTrace> {
  const tfMs = timeframeMs(request.timeframe);
  if (request.tsMs % tfMs !== 0)
    throw new RangeError(
      `--ts ${new Date(request.tsMs).toISOString()} is not on the ${request.timeframe} grid (bars open at multiples of ${tfMs} ms)`,
    );
  const closeMs = request.tsMs + tfMs;
  const lookbackFromMs = closeMs - lookbackMs(align, tfMs);
  const asOf = request.asOfMs ?? Number.POSITIVE_INFINITY;
  const trace: BarTrace = {
    request,
    closeMs,
    lookbackFromMs,
    deadLetterDays: [],
    lineage: selectBarLineage([], {
      exchange: request.exchange,
      symbol: request.symbol,
      barTimeMs: request.tsMs,
      timeframeMs: tfMs,
      maxOpenInterestStalenessMs: align.maxOpenInterestStalenessMs,
      maxMarkIndexStalenessMs: align.maxMarkIndexStalenessMs,
    }),
    deadLetters: [],
    rejectedInputs: 0,
    contractFailures: 0,
    notYetKnown: 0,
    scanned: { objects: 0, rows: 0 },
    daysWithoutIndex: [],
  };

  const read = async (feed: ArchiveFeed, fromMs: number, toMs: number) => {
    const listing = await listArchiveObjects(get, prefix, { feed, exchange: request.exchange, fromMs, toMs });
    trace.daysWithoutIndex.push(...listing.daysWithoutIndex.map((d) => `${feed}/${d}`));
    const out: { row: ArchiveRow; origin: RowOrigin }[] = [];
    for (const entry of listing.objects) {
      const rows = await readArchiveObject(get, entry); // a corrupt object stops the trace, named
      trace.scanned.objects++;
      trace.scanned.rows += rows.length;
      for (const row of rows)
        if (row.exchange === request.exchange && row.symbol === request.symbol)
          out.push({ row, origin: originOf(row, entry.key, entry.sha256) });
    }
    return out;
  };

  // Dead letters first: a record a stage rejected decided nothing, whatever it holds.
  const dlFrom = Math.floor(request.tsMs / DAY_MS) * DAY_MS;
  const dlTo = Math.floor((closeMs + align.revisionHorizonMs) / DAY_MS) * DAY_MS + DAY_MS;
  for (let d = dlFrom; d < dlTo; d += DAY_MS) trace.deadLetterDays.push(utcDay(d));
  const rejected = new Set<string>();
  for (const { row, origin } of await read('dead_letter', dlFrom, dlTo)) {
    const decoded = decodeRecord('dead_letter', asBuffer(row.value));
    if (!decoded.ok) continue;
    const letter = decoded.value;
    // Left out of the inputs whenever it was dead-lettered: a rejected record never decided
    // a bar, even before its dead letter was written. Listed only when known by asOfMs.
    rejected.add(`${letter.source.topic}/${letter.source.partition}/${letter.source.offset}`);
    if (letter.deadLetteredAtMs > asOf) continue;
    const eventTimeMs = payloadEventTime(letter);
    if (eventTimeMs === null || eventTimeMs < request.tsMs || eventTimeMs >= closeMs) continue;
    trace.deadLetters.push({
      ruleId: letter.ruleId,
      message: letter.message,
      stage: letter.stage,
      source: letter.source,
      deadLetteredAtMs: letter.deadLetteredAtMs,
      eventTimeMs,
      origin,
    });
  }

  const inputs: LineageInput[] = [];
  for (const feed of FEEDS) {
    for (const { row, origin } of await read(feed, lookbackFromMs, closeMs + 1)) {
      if (row.contractError !== null) {
        trace.contractFailures++;
        continue;
      }
      if (rejected.has(`${row.topic}/${row.partition}/${row.offset}`)) {
        trace.rejectedInputs++;
        continue;
      }
      const decoded = decodeRecord(FEED_RECORD_KIND[feed], asBuffer(row.value));
      if (!decoded.ok) {
        trace.contractFailures++;
        continue;
      }
      const record = decoded.value as LineageInput['record'];
      if (record.receivedAtMs > asOf) {
        trace.notYetKnown++;
        continue;
      }
      if (feed === 'ohlcv' && (record as { timeframe?: string }).timeframe !== request.timeframe) continue;
      inputs.push({ feed, record, origin } as LineageInput);
    }
  }
  trace.lineage = selectBarLineage(inputs, {
    exchange: request.exchange,
    symbol: request.symbol,
    barTimeMs: request.tsMs,
    timeframeMs: tfMs,
    maxOpenInterestStalenessMs: align.maxOpenInterestStalenessMs,
    maxMarkIndexStalenessMs: align.maxMarkIndexStalenessMs,
  });
  trace.deadLetters.sort((a, b) => a.deadLetteredAtMs - b.deadLetteredAtMs);
  return trace;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function where(o: RowOrigin): string {
  return `${o.topic}/${o.partition}@${o.offset} in ${o.objectKey} (sha256 ${o.objectSha256.slice(0, 12)}…)`;
}

/**
 * The trace for people: one block per feed, the rule that chose each record, every copy;
 * `mark` appends to each record's line (where it stands against the window's rawThrough).
 */
export function describeTrace(t: BarTrace, mark: (o: RowOrigin) => string = () => ''): string[] {
  const r = t.request;
  const lines = [
    `bar ${r.exchange} ${r.symbol} ${r.timeframe} ${iso(r.tsMs)} (close ${iso(t.closeMs)})` +
      (r.asOfMs === undefined ? '' : `, as of ${iso(r.asOfMs)}`),
    `read ${t.scanned.objects} archive objects (${t.scanned.rows} rows), sha256 verified; inputs from ${iso(t.lookbackFromMs)}`,
  ];
  const copies = <T extends { kept: boolean; input: LineageInput }>(xs: T[], show: (x: T) => string) =>
    xs.map(
      (x) => `    ${x.kept ? 'kept' : 'copy'} ${show(x)}  ${where(x.input.origin)}${mark(x.input.origin)}`,
    );
  const l = t.lineage;
  lines.push('ohlcv: the candle opening at the bar (closed over provisional, then larger volume)');
  if (l.ohlcv.length === 0) lines.push('    none: the bar is a fill or absent');
  lines.push(
    ...copies(l.ohlcv, (x) => {
      const c = x.input.record;
      return `${c.closed ? 'closed' : 'provisional'} o ${c.open} h ${c.high} l ${c.low} c ${c.close} v ${c.volume}, received ${iso(c.receivedAtMs)}`;
    }),
  );
  lines.push('open_interest: the latest observation at or before the close, within the staleness bound');
  if (l.openInterest.length === 0)
    lines.push(
      l.openInterestStale.length > 0
        ? `    none fresh: the latest, ${iso(l.openInterestStale[0]!.record.eventTimeMs)}, is past the staleness bound`
        : '    none within the lookback',
    );
  lines.push(
    ...copies(l.openInterest, (x) => {
      const o = x.input.record;
      return `${o.openInterest} at ${iso(o.eventTimeMs)}, received ${iso(o.receivedAtMs)}`;
    }),
  );
  lines.push('funding settled: the latest settlement at or before the close, stamped by then');
  if (l.fundingSettled.length === 0) lines.push('    none within the lookback');
  lines.push(
    ...copies(l.fundingSettled, (x) => {
      const f = x.input.record;
      return `${f.fundingRate} for ${iso(f.fundingTimeMs)}, received ${iso(f.receivedAtMs)}`;
    }),
  );
  lines.push('funding previous: the settlement before it (their distance is the funding interval)');
  if (l.fundingPrevious.length === 0) lines.push('    none within the lookback');
  lines.push(
    ...copies(l.fundingPrevious, (x) => {
      const f = x.input.record;
      return `${f.fundingRate} for ${iso(f.fundingTimeMs)}, received ${iso(f.receivedAtMs)}`;
    }),
  );
  lines.push('funding predicted: the latest prediction by the close, for a settlement after it');
  if (l.fundingPredicted.length === 0) lines.push('    none');
  lines.push(
    ...copies(l.fundingPredicted, (x) => {
      const f = x.input.record;
      return `${f.fundingRate} for ${iso(f.fundingTimeMs)} at ${iso(f.eventTimeMs)}`;
    }),
  );
  lines.push('mark and index: the latest premium-index observation by the close, within the staleness bound');
  if (l.markIndex.length === 0) lines.push('    none');
  lines.push(
    ...copies(l.markIndex, (x) => {
      const f = x.input.record;
      return `mark ${f.markPrice ?? 'none'} index ${f.indexPrice ?? 'none'} at ${iso(f.eventTimeMs)}`;
    }),
  );
  const distinct = l.liquidations.filter((x) => x.kept).length;
  lines.push(
    `liquidations: event time in [open, close): ${distinct} distinct, ${l.liquidations.length} copies`,
  );
  lines.push(
    ...copies(l.liquidations, (x) => {
      const q = x.input.record;
      return `${q.side} ${q.amount} @ ${q.price} at ${iso(q.eventTimeMs)}`;
    }),
  );
  lines.push(
    `dead letters of the bar's time (read ${t.deadLetterDays.join(', ')}): ${t.deadLetters.length}` +
      (t.rejectedInputs > 0 ? `; ${t.rejectedInputs} dead-lettered inputs left out` : ''),
  );
  for (const d of t.deadLetters)
    lines.push(
      `    ${d.ruleId} (${d.stage}) ${d.source.topic}/${d.source.partition}@${d.source.offset}: ${d.message}`,
    );
  lines.push(
    'every record above passed its contract and was not dead-lettered by any stage' +
      (t.contractFailures > 0
        ? `; ${t.contractFailures} archived rows of the series fail their contract`
        : '') +
      (t.notYetKnown > 0 ? `; ${t.notYetKnown} rows received after the as-of time left out` : ''),
  );
  if (t.daysWithoutIndex.length > 0) lines.push(`nothing archived for: ${t.daysWithoutIndex.join(', ')}`);
  return lines;
}
