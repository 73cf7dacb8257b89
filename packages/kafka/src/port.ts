/**
 * The Kafka client as the services use it, and nothing more: a connection that creates the
 * pipeline's topics, the idempotent producer, the admin's offset reads and group consumers
 * (`KafkaClient`), and what those give and take: the records read and written, the
 * producer's send, the consumer's commits, flow control, assignments and batches. Services
 * import these names, never kafkajs; `createKafkaClient` (kafkajs-client.ts) is the one
 * implementation, and kafkajs's own objects satisfy the record, producer and admin shapes,
 * which the checks at the end of this file prove at compile time. A port to another client
 * (README "The Kafka client") implements `KafkaClient` in a file of its own; no service's
 * source changes.
 */
import type { Admin, Batch, Consumer, IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import type { TopicSpec } from './topics.js';

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

/** The admin as a service holds it: connected by the service, closed at its stop. */
export interface ConnectedAdmin extends OffsetsAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

/** A group member's session and fetches. Each default is the one kafkajs has. */
export interface GroupConsumerOptions {
  groupId: string;
  /**
   * Partition p of every subscribed topic to one member (the aligner merges partition p of
   * the four raw topics). Default false: the client's own assignor.
   */
  coPartitioned?: boolean;
  /** Default 30,000. */
  sessionTimeoutMs?: number;
  /** Default 3,000. */
  heartbeatIntervalMs?: number;
  /** Default 1,048,576. */
  maxBytesPerPartition?: number;
  /** How long the broker holds a fetch that finds nothing new; default 5,000. */
  maxWaitTimeMs?: number;
}

/** What a member consumes, and who handles it. */
export interface ConsumeOptions {
  topics: string[];
  /** Where a partition without a committed offset starts: its log start, else its end. */
  fromBeginning: boolean;
  /**
   * One fetch's records of one topic-partition. Offsets are committed only by the handler
   * (`commitOffsets`), never by the client: every crash table relies on it. A throw is the
   * client's to retry (the same batch again, or a rejoin when membership was lost).
   */
  handle(batch: FetchedBatch, heartbeat: () => Promise<void>): Promise<void>;
  /** Partitions handled at once; default 1. */
  partitionsConcurrently?: number;
  /**
   * The client stopped consuming for good and will not rejoin (e.g. no group coordinator
   * while the broker restarts). Default: log it and exit the process with status 1, so the
   * supervisor starts the service again from its committed offsets instead of leaving it
   * alive consuming nothing. Every crash the client recovers from is logged either way.
   */
  onGiveUp?(error: Error): void;
}

/** A member of a consumer group. */
export interface GroupConsumer extends ConsumerControl {
  /** Called with topic → partitions each time this member's assignment is handed out. */
  onAssignment(listener: (assignment: Record<string, number[]>) => void): void;
  /** Called after each fetch response (the aligner's fetch clock). */
  onFetch(listener: () => void): void;
  /** Connects, joins the group and starts handing batches to `handle`; resolves once running. */
  consume(options: ConsumeOptions): Promise<void>;
  disconnect(): Promise<void>;
}

/** One connection's worth of what a service asks of Kafka. */
export interface KafkaClient {
  /**
   * Creates the topics that do not exist yet (never changes an existing one's partitions);
   * resolves with those it created, once every topic of `specs` has a leader on every partition.
   */
  ensureTopics(specs: TopicSpec[]): Promise<string[]>;
  /** Acks from every in-sync replica, one request in flight, Java's murmur2 partitioner. */
  idempotentProducer(): RecordProducer;
  admin(): ConnectedAdmin;
  groupConsumer(options: GroupConsumerOptions): GroupConsumer;
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
  Fits<ConnectedAdmin, Admin>,
];
