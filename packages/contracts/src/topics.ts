import type { ExchangeId } from './exchanges.js';
import type { RecordKind } from './schemas.js';
import { SCHEMA_VERSION } from './schemas.js';

/** Raw feeds as published by exchange-ingest. */
export const FEEDS = ['ohlcv', 'open_interest', 'funding', 'liquidation'] as const;
export type Feed = (typeof FEEDS)[number];

/** Topic names: `perpflow.<stage>.<feed>.v<N>`. */
export const TOPICS = {
  raw: {
    ohlcv: `perpflow.raw.ohlcv.v${SCHEMA_VERSION}`,
    open_interest: `perpflow.raw.open_interest.v${SCHEMA_VERSION}`,
    funding: `perpflow.raw.funding.v${SCHEMA_VERSION}`,
    liquidation: `perpflow.raw.liquidation.v${SCHEMA_VERSION}`,
  },
  alignedBar: `perpflow.aligned.bar.v${SCHEMA_VERSION}`,
  deadLetter: `perpflow.dlq.v${SCHEMA_VERSION}`,
} as const satisfies PipelineTopicNames;

/** The names of one pipeline's topics: TOPICS, or TOPICS under a prefix. */
export interface PipelineTopicNames {
  raw: Record<Feed, string>;
  alignedBar: string;
  deadLetter: string;
}

/** What a topic prefix may hold: Kafka's topic characters, short enough for the longest name. */
export const TOPIC_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{0,64}$/;

/**
 * The pipeline's topics under `prefix` (KAFKA_TOPIC_PREFIX): `<prefix>perpflow.raw.ohlcv.v1`
 * and so on. One cluster then carries pipelines that never see each other's records
 * (a staging pipeline beside production; each test file of `npm test` in its own).
 * '' gives TOPICS itself.
 */
export function pipelineTopicNames(prefix = ''): PipelineTopicNames {
  if (!TOPIC_PREFIX_PATTERN.test(prefix))
    throw new RangeError(`topic prefix "${prefix}": letters, digits, _ . - only, at most 64 characters`);
  if (prefix === '') return TOPICS;
  return {
    raw: {
      ohlcv: prefix + TOPICS.raw.ohlcv,
      open_interest: prefix + TOPICS.raw.open_interest,
      funding: prefix + TOPICS.raw.funding,
      liquidation: prefix + TOPICS.raw.liquidation,
    },
    alignedBar: prefix + TOPICS.alignedBar,
    deadLetter: prefix + TOPICS.deadLetter,
  };
}

/** The record kind carried by each raw feed's topic. */
export const FEED_RECORD_KIND: Record<Feed, RecordKind> = {
  ohlcv: 'candle',
  open_interest: 'open_interest',
  funding: 'funding',
  liquidation: 'liquidation',
};

/** The raw feed a topic carries, among `topics` (the unprefixed names unless given). */
export function feedOfTopic(topic: string, topics: PipelineTopicNames = TOPICS): Feed | null {
  for (const feed of FEEDS) if (topics.raw[feed] === topic) return feed;
  return null;
}

/** Default partition counts: one exchange+symbol stream stays in one partition, in order. */
export const DEFAULT_PARTITIONS = 12;

/**
 * The partition key: `<exchange>|<symbol>`. Every record of one stream has the
 * same key, so Kafka's default partitioner keeps the stream in one partition, in order.
 */
export function streamKey(exchange: ExchangeId | string, symbol: string): string {
  return `${exchange}|${symbol}`;
}

export function parseStreamKey(key: string): { exchange: string; symbol: string } | null {
  const i = key.indexOf('|');
  if (i <= 0 || i === key.length - 1) return null;
  return { exchange: key.slice(0, i), symbol: key.slice(i + 1) };
}

/** Header conventions (all values are UTF-8 strings). */
export const HEADERS = {
  /** `<recordKind>/v<schemaVersion>`, e.g. `candle/v1`. */
  schema: 'perpflow-schema',
  /** Which service produced the message. */
  producer: 'perpflow-producer',
  /** `live` or `backfill`. */
  source: 'perpflow-source',
  /** Wall-clock ms when the message was produced (ours, not the exchange's). */
  producedAtMs: 'perpflow-produced-at-ms',
  /** On aligned bars: the dataset version (`dv-` + 16 hex) of the config that built the bar. */
  datasetVersion: 'perpflow-dataset-version',
  /**
   * On aligned bars: the raw input positions the bar was decided from, as
   * `<topic>:<partition>:<offset>` joined by commas (formatRawThrough): every raw record
   * that decided it is below `offset` (exclusive) on one of those topic-partitions.
   */
  rawThrough: 'perpflow-raw-through',
} as const;

/** One raw topic-partition and the first offset past the records applied from it. */
export interface RawPosition {
  topic: string;
  partition: number;
  /** Exclusive: the next offset to apply (decimal text, as Kafka's offsets). */
  offset: string;
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const OFFSET_TEXT = /^(0|[1-9][0-9]{0,18})$/;
/** Raw positions one header may name (four topics per partition; one partition per series). */
export const MAX_RAW_POSITIONS = 64;

/** The perpflow-raw-through header value, sorted by topic then partition. */
export function formatRawThrough(positions: readonly RawPosition[]): string {
  return [...positions]
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
    .map((p) => `${p.topic}:${p.partition}:${p.offset}`)
    .join(',');
}

/**
 * The positions a perpflow-raw-through header names, or the reason it cannot be read:
 * topic names as Kafka allows them, partitions 0-999999, offsets of at most 19 digits, at
 * most MAX_RAW_POSITIONS entries, each topic-partition once.
 */
export function parseRawThrough(text: string): RawPosition[] | { error: string } {
  if (text.length > MAX_RAW_POSITIONS * 300)
    return { error: `longer than ${MAX_RAW_POSITIONS * 300} characters` };
  const parts = text === '' ? [] : text.split(',');
  if (parts.length > MAX_RAW_POSITIONS) return { error: `more than ${MAX_RAW_POSITIONS} positions` };
  const out: RawPosition[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    const fields = part.split(':');
    const [topic, partition, offset] = fields;
    if (
      fields.length !== 3 ||
      !TOPIC_NAME.test(topic ?? '') ||
      !/^(0|[1-9][0-9]{0,5})$/.test(partition ?? '')
    )
      return { error: `"${part.slice(0, 80)}" is not <topic>:<partition>:<offset>` };
    if (!OFFSET_TEXT.test(offset ?? ''))
      return { error: `"${part.slice(0, 80)}": the offset is not a whole number` };
    const id = `${topic}:${partition}`;
    if (seen.has(id)) return { error: `${id} named twice` };
    seen.add(id);
    out.push({ topic: topic as string, partition: Number(partition), offset: offset as string });
  }
  return out;
}

export function schemaHeader(kind: RecordKind): string {
  return `${kind}/v${SCHEMA_VERSION}`;
}
