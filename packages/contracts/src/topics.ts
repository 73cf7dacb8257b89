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
} as const satisfies { raw: Record<Feed, string>; alignedBar: string; deadLetter: string };

/** The record kind carried by each raw feed's topic. */
export const FEED_RECORD_KIND: Record<Feed, RecordKind> = {
  ohlcv: 'candle',
  open_interest: 'open_interest',
  funding: 'funding',
  liquidation: 'liquidation',
};

export function feedOfTopic(topic: string): Feed | null {
  for (const feed of FEEDS) if (TOPICS.raw[feed] === topic) return feed;
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
} as const;

export function schemaHeader(kind: RecordKind): string {
  return `${kind}/v${SCHEMA_VERSION}`;
}
