import { PerpflowError } from '@perpflow/contracts';
import type { ArchiveFeed, ArchiveRow } from './record.js';

/**
 * The raw archive's key layout under `<prefix>/raw/`, Hive style:
 *
 *   feed=<feed>/exchange=<exchange>/date=<YYYY-MM-DD>/<topic>+<partition>+<offset20>.parquet
 *   feed=<feed>/exchange=<exchange>/date=<YYYY-MM-DD>/<topic>+<partition>+<offset20>.manifest.json
 *   feed=<feed>/exchange=<exchange>/date=<YYYY-MM-DD>/_index.json
 *   _ledger/<topic>/<partition>/<offset20>.json
 *
 * `offset20` is the first Kafka offset the object holds, zero-padded to 20 digits (keys
 * sort in offset order). Only the exchange comes from data; it shapes a key only when it
 * matches EXCHANGE_SEGMENT, else the record goes to exchange=_invalid. The date is the
 * UTC day of the record's time (rowTimeMs: event time; for a dead letter, when it was
 * quarantined; else the Kafka timestamp).
 */
export const INVALID_EXCHANGE = '_invalid';
/** Exchange ids as ccxt spells them: lower-case letters, digits, `_` and `-`, at most 64. */
export const EXCHANGE_SEGMENT = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Kafka topic names: letters, digits, `.`, `_`, `-` (Kafka's own rule), never `.` or `..`. */
const TOPIC_SEGMENT = /^[A-Za-z0-9._-]{1,249}$/;

export class InvalidArchiveKey extends PerpflowError {
  readonly code = 'INVALID_ARCHIVE_KEY';
  readonly retriable = false;
}

/** The exchange's key segment: the id itself when safe, else `_invalid` (never from unchecked data). */
export function exchangeSegment(exchange: string | null): string {
  return exchange !== null && EXCHANGE_SEGMENT.test(exchange) ? exchange : INVALID_EXCHANGE;
}

const DAY_MS = 86_400_000;
/** 0000-01-01T00:00Z and 10000-01-01T00:00Z: the span of plain `YYYY-MM-DD` days. */
const FIRST_PLAIN_MS = -62_167_219_200_000;
const END_PLAIN_MS = 253_402_300_800_000;
/** The last day formatted (records come in runs of one day: one toISOString per run). */
let lastDay = { start: Number.NaN, text: '' };

/** UTC calendar day `YYYY-MM-DD` of an integer ms time. */
export function utcDay(ms: number): string {
  if (ms >= lastDay.start && ms < lastDay.start + DAY_MS) return lastDay.text;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new InvalidArchiveKey(`not a time: ${ms}`);
  const text = d.toISOString().slice(0, 10);
  if (ms >= FIRST_PLAIN_MS && ms < END_PLAIN_MS) lastDay = { start: Math.floor(ms / DAY_MS) * DAY_MS, text };
  return text;
}

/** Whether `ms` is a time whose UTC day is a plain `YYYY-MM-DD` (years 0000-9999). */
function hasPlainDay(ms: number | null): ms is number {
  return ms !== null && ms >= FIRST_PLAIN_MS && ms < END_PLAIN_MS;
}

/**
 * The time that decides a row's day: event time, else receive time (a dead letter's),
 * else Kafka's, each only when it is a time with a plain calendar day (a value's
 * `eventTimeMs` of 9e15 is a safe integer but no date: it must not stop the archive).
 * Nothing usable at all (a broker without timestamps): 0, the epoch's day.
 */
export function rowTimeMs(row: ArchiveRow): number {
  for (const t of [row.eventTimeMs, row.receivedAtMs, row.kafkaTimestampMs]) if (hasPlainDay(t)) return t;
  return 0;
}

/** The (exchange, day) partition a row belongs to. */
export function rowPartition(row: ArchiveRow): { exchange: string; date: string } {
  return { exchange: exchangeSegment(row.exchange), date: utcDay(rowTimeMs(row)) };
}

export function offset20(offset: string): string {
  if (!/^\d{1,20}$/.test(offset))
    throw new InvalidArchiveKey(`offset must be a non-negative integer, got '${offset}'`);
  return offset.padStart(20, '0');
}

function checkTopic(topic: string): string {
  if (!TOPIC_SEGMENT.test(topic) || topic === '.' || topic === '..')
    throw new InvalidArchiveKey(`topic '${topic}' is not a Kafka topic name`);
  return topic;
}

function checkPartition(partition: number): number {
  if (!Number.isInteger(partition) || partition < 0)
    throw new InvalidArchiveKey(`partition must be a non-negative integer, got ${partition}`);
  return partition;
}

export interface DayPartition {
  feed: ArchiveFeed;
  exchange: string;
  date: string;
}

/** `<prefix>/raw/feed=…/exchange=…/date=…/`: one (feed, exchange, day) folder. */
export function dayFolder(prefix: string, p: DayPartition): string {
  if (exchangeSegment(p.exchange) !== p.exchange && p.exchange !== INVALID_EXCHANGE)
    throw new InvalidArchiveKey(`exchange segment '${p.exchange}' is not safe`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(p.date))
    throw new InvalidArchiveKey(`date must be YYYY-MM-DD, got '${p.date}'`);
  return `${prefix}/raw/feed=${p.feed}/exchange=${p.exchange}/date=${p.date}/`;
}

export interface ObjectId extends DayPartition {
  topic: string;
  partition: number;
  /** First Kafka offset in the object. */
  firstOffset: string;
}

function objectStem(prefix: string, o: ObjectId): string {
  return `${dayFolder(prefix, o)}${checkTopic(o.topic)}+${checkPartition(o.partition)}+${offset20(o.firstOffset)}`;
}

export const archiveObjectKey = (prefix: string, o: ObjectId): string => `${objectStem(prefix, o)}.parquet`;
export const archiveManifestKey = (prefix: string, o: ObjectId): string =>
  `${objectStem(prefix, o)}.manifest.json`;
export const dayIndexKey = (prefix: string, p: DayPartition): string => `${dayFolder(prefix, p)}_index.json`;

/** The ledger entry of the flush of a topic-partition that starts at `firstOffset`. */
export function ledgerKey(prefix: string, topic: string, partition: number, firstOffset: string): string {
  return `${prefix}/raw/_ledger/${checkTopic(topic)}/${checkPartition(partition)}/${offset20(firstOffset)}.json`;
}
