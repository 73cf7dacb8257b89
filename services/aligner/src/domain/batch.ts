import {
  type AlignedBar,
  decodeRecord,
  FEED_RECORD_KIND,
  type Feed,
  formatRawThrough,
  HEADERS,
  renderValue,
  SCHEMA_VERSION,
  schemaHeader,
  streamKey,
} from '@perpflow/contracts';
import {
  buildDeadLetter,
  type DeadLetterSource,
  deadLetterToMessage,
  type OutgoingMessage,
} from '@perpflow/kafka';
import type { EngineInput, EngineOutput, PartitionEngine } from './engine-types.js';

/** One consumed raw message: what the engine and its dead letter need, nothing else. */
export interface ConsumedMessage {
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /**
   * The record's Kafka timestamp (the ingest's publish time), capped at the time the
   * aligner received it: the quality rules' "now" for this record, so the verdict is the
   * same whenever the record is processed. Absent in log entries of older versions, which
   * used the batch's `nowMs`.
   */
  timestampMs?: number;
}

/**
 * A run of one raw topic-partition's records as the engine saw it. The engine's output is
 * a function of its state before the run and of this (messages in order, their
 * timestamps), which is why the pipeline logs it before publishing anything it produced.
 * `nowMs` is when it was processed: the dead letters' and bars' processing time only.
 */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  feed: Feed;
  nowMs: number;
  messages: ConsumedMessage[];
}

export interface BatchResult {
  /** Aligned bars, in emission order, and their Kafka messages. */
  bars: AlignedBar[];
  barMessages: OutgoingMessage[];
  /** Contract violations first (in offset order), then the engine's rejections. */
  deadLetters: OutgoingMessage[];
  /** Rule ids of the contract violations (the engine's own are in `output`). */
  contractRules: string[];
  output: EngineOutput<DeadLetterSource>;
}

/**
 * decode + contract → engine (quality, align) → bar and dead-letter messages. Pure but
 * for the engine's state: the same batch on the same state gives byte-identical messages,
 * so a replay from the batch log reproduces exactly what the first run published.
 */
export function runBatch(
  engine: PartitionEngine,
  batch: ConsumedBatch,
  producerName: string,
  datasetVersion?: string,
): BatchResult {
  const { topic, partition, feed, nowMs } = batch;
  const kind = FEED_RECORD_KIND[feed];
  const deadLetters: OutgoingMessage[] = [];
  const contractRules: string[] = [];
  const output: EngineOutput<DeadLetterSource> = { bars: [], rejected: [], hits: [], watermarks: new Map() };
  // Records with the same rule time go to the engine together (apply is record by record).
  let inputs: EngineInput<DeadLetterSource>[] = [];
  let inputsNowMs = nowMs;
  const applyInputs = () => {
    engine.apply(inputs, inputsNowMs, output);
    inputs = [];
  };
  for (const m of batch.messages) {
    const ref: DeadLetterSource = {
      topic,
      partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      headers: m.headers,
    };
    const checked = checkRaw(kind, m.key, m.value);
    if ('record' in checked) {
      const ruleNowMs = m.timestampMs ?? nowMs;
      if (inputs.length > 0 && ruleNowMs !== inputsNowMs) applyInputs();
      inputsNowMs = ruleNowMs;
      inputs.push({ feed, record: checked.record, ref });
      continue;
    }
    contractRules.push(checked.ruleId);
    const keyParts = m.key?.split('|');
    deadLetters.push(
      deadLetterToMessage(
        buildDeadLetter(
          ref,
          { ...checked, exchange: keyParts?.[0] ?? null, symbol: keyParts?.[1] ?? null },
          'aligner',
          nowMs,
        ),
        producerName,
      ),
    );
  }
  if (inputs.length > 0) applyInputs();
  for (const r of output.rejected)
    deadLetters.push(
      deadLetterToMessage(
        buildDeadLetter(
          r.ref,
          { ruleId: r.ruleId, message: r.message, exchange: r.exchange, symbol: r.symbol },
          'aligner',
          nowMs,
        ),
        producerName,
      ),
    );
  const header = barHeaderValues(nowMs, producerName, datasetVersion);
  const barMessages = output.bars.map((b) => barMessageWith(b, header));
  return { bars: output.bars, barMessages, deadLetters, contractRules, output };
}

/**
 * Stamps every bar message of a step with the raw positions its partition had applied
 * after the step (HEADERS.rawThrough): each bar was decided by records below them. The
 * positions are the step's logged offsets, so a replay of the step stamps the same bytes.
 */
export function stampRawThrough(
  results: readonly BatchResult[],
  partition: number,
  offsets: Readonly<Record<string, string>>,
): void {
  const value = formatRawThrough(
    Object.entries(offsets).map(([topic, offset]) => ({ topic, partition, offset })),
  );
  for (const r of results)
    for (const m of r.barMessages) (m.headers as Record<string, string>)[HEADERS.rawThrough] = value;
}

type RawRecord = EngineInput<DeadLetterSource>['record'];

/**
 * The record, or the contract rule it breaks. `contract.key`: the message key must be the
 * record's `<exchange>|<symbol>`. The key picks the partition, and one series must live in
 * one partition (one engine, one order): a mis-keyed record aligned where it landed could
 * split its series.
 */
export function checkRaw(
  kind: (typeof FEED_RECORD_KIND)[Feed],
  key: string | null,
  value: Buffer | null,
): { record: RawRecord } | { ruleId: string; message: string } {
  const decoded = decodeRecord(kind, value);
  if (!decoded.ok) return { ruleId: `contract.${decoded.error.rule}`, message: decoded.error.message };
  const record = decoded.value as RawRecord;
  const expected = streamKey(record.exchange, record.symbol);
  if (key === expected) return { record };
  const shown = key === null ? 'missing' : renderValue(key);
  return {
    ruleId: 'contract.key',
    message: `message key ${shown} does not match the record's exchange|symbol ${JSON.stringify(expected)}`,
  };
}

export function barMessage(
  bar: AlignedBar,
  producedAtMs: number,
  producerName = 'aligner',
  datasetVersion?: string,
): OutgoingMessage {
  return barMessageWith(bar, barHeaderValues(producedAtMs, producerName, datasetVersion));
}

/** The header values every bar message of a batch shares, made once per batch. */
interface BarHeaderValues {
  schema: string;
  producer: string;
  producedAtMs: string;
  datasetVersion: string | undefined;
}

function barHeaderValues(
  producedAtMs: number,
  producerName: string,
  datasetVersion: string | undefined,
): BarHeaderValues {
  return {
    schema: schemaHeader('aligned_bar'),
    producer: producerName,
    producedAtMs: String(producedAtMs),
    datasetVersion,
  };
}

const SCHEMA_VERSION_HEADER = String(SCHEMA_VERSION);

function barMessageWith(bar: AlignedBar, h: BarHeaderValues): OutgoingMessage {
  const headers: Record<string, string> = {
    [HEADERS.schema]: h.schema,
    [HEADERS.producer]: h.producer,
    [HEADERS.producedAtMs]: h.producedAtMs,
    'perpflow-schema-version': SCHEMA_VERSION_HEADER,
  };
  // Absent only where a caller runs the engine without a version (unit tests).
  if (h.datasetVersion !== undefined) headers[HEADERS.datasetVersion] = h.datasetVersion;
  return { key: streamKey(bar.exchange, bar.symbol), value: JSON.stringify(bar), headers };
}
