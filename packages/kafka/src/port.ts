/**
 * The Kafka client as the services use it, and nothing more: the records they read and
 * write, the producer's send, the consumer's commit and flow control, and the admin's offset
 * reads. Services import these names, never kafkajs; kafkajs's objects (from `createKafka`)
 * satisfy them, which the checks at the end of this file prove at compile time. A port to
 * another client (README "The Kafka client") implements these interfaces here, plus the
 * consumers' creation and `run` in each service's main.ts, which still goes through the
 * kafkajs object `createKafka` returns.
 */
import type { Admin, Batch, Consumer, IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';

/** A record's headers as the client gives and takes them (several values per name possible). */
export type RecordHeaders = { [name: string]: Buffer | string | (Buffer | string)[] | undefined };

/** A record to write. */
export interface OutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: RecordHeaders;
  /** Milliseconds since the epoch, as a decimal string; the broker's time when absent. */
  timestamp?: string;
}

/** A record as a fetch returns it. */
export interface IncomingMessage {
  offset: string;
  /** Milliseconds since the epoch, as a decimal string (the producer's or the broker's). */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeaders;
}

/** One fetch's records of one topic-partition. */
export interface FetchedBatch {
  topic: string;
  partition: number;
  /** The partition's log end offset when fetched. */
  highWatermark: string;
  messages: IncomingMessage[];
  /** The offset of the batch's last record. */
  lastOffset(): string;
}

/** The idempotent producer (`createIdempotentProducer`): resolves once the broker acknowledged every message. */
export interface RecordProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: {
    topic: string;
    messages: OutgoingMessage[];
    acks?: number;
    timeout?: number;
  }): Promise<unknown>;
}

/** What a service's batch handler asks of its group consumer. */
export interface ConsumerControl {
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  resume(topics: { topic: string; partitions?: number[] }[]): void;
}

/** The admin's offset reads: a topic's ends, a group's committed offsets. */
export interface OffsetsAdmin {
  fetchTopicOffsets(
    topic: string,
  ): Promise<{ partition: number; offset: string; high: string; low: string }[]>;
  fetchOffsets(options: {
    groupId: string;
    topics?: string[];
  }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/** Compile-time proof that kafkajs's objects and records fit the interfaces above. */
type Fits<Port, Impl extends Port> = [Port, Impl];
export type KafkajsFitsThePort = [
  Fits<RecordHeaders, IHeaders>,
  Fits<OutgoingMessage, Message>,
  Fits<Message, OutgoingMessage>,
  Fits<IncomingMessage, KafkaMessage>,
  Fits<FetchedBatch, Batch>,
  Fits<RecordProducer, Producer>,
  Fits<ConsumerControl, Consumer>,
  Fits<OffsetsAdmin, Admin>,
];
