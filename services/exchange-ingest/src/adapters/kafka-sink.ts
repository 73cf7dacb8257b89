import {
  type ContractViolation,
  type DeadLetter,
  FEED_RECORD_KIND,
  type Feed,
  type PipelineTopicNames,
  SCHEMA_VERSION,
  streamKey,
  TOPICS,
} from '@perpflow/contracts';
import { toMessage } from '@perpflow/kafka';
import type { RecordProducer } from '@perpflow/kafka';

/** Where normalized records go. Resolves only once Kafka has acknowledged them (acks=all). */
export interface RecordSink {
  publish(
    feed: Feed,
    records: readonly { exchange: string; symbol: string }[],
    source: 'live' | 'backfill',
  ): Promise<void>;
  /** Quarantines what the exchange sent that broke the contract, with the reason. */
  deadLetter(entry: {
    feed: Feed;
    exchange: string;
    symbol: string;
    origin: string;
    raw: unknown;
    violation: ContractViolation;
  }): Promise<void>;
}

const MAX_DLQ_PAYLOAD = 32 * 1024;

export class KafkaRecordSink implements RecordSink {
  /**
   * @param producerName the perpflow-producer header of every record: the Kafka client
   * id of this process (default the service name), so a record says which worker wrote it.
   */
  constructor(
    private readonly producer: RecordProducer,
    private readonly now: () => number = Date.now,
    private readonly producerName = 'exchange-ingest',
    /** pipelineTopicNames(KAFKA_TOPIC_PREFIX): TOPICS in production. */
    private readonly topics: PipelineTopicNames = TOPICS,
  ) {}

  async publish(
    feed: Feed,
    records: readonly { exchange: string; symbol: string }[],
    source: 'live' | 'backfill',
  ): Promise<void> {
    if (records.length === 0) return;
    const producedAtMs = this.now();
    const kind = FEED_RECORD_KIND[feed];
    await this.producer.send({
      topic: this.topics.raw[feed],
      messages: records.map((r) => toMessage(r, { kind, producer: this.producerName, producedAtMs, source })),
    });
  }

  async deadLetter(entry: {
    feed: Feed;
    exchange: string;
    symbol: string;
    origin: string;
    raw: unknown;
    violation: ContractViolation;
  }): Promise<void> {
    let payload: string;
    try {
      payload = JSON.stringify(entry.raw) ?? String(entry.raw);
    } catch {
      payload = String(entry.raw);
    }
    const bytes = Buffer.byteLength(payload);
    const letter: DeadLetter = {
      schemaVersion: SCHEMA_VERSION,
      ruleId: `contract.${entry.violation.rule}`,
      message: entry.violation.message.slice(0, 4096),
      stage: 'ingest',
      // Not from Kafka: the origin is the exchange call (`exchange:<id>/<method>`), partition 0, offset 0.
      source: { topic: `exchange:${entry.exchange}/${entry.origin}`, partition: 0, offset: '0' },
      key: streamKey(entry.exchange, entry.symbol),
      payload: bytes > MAX_DLQ_PAYLOAD ? payload.slice(0, MAX_DLQ_PAYLOAD) : payload,
      payloadEncoding: 'utf8',
      payloadBytes: bytes,
      payloadTruncated: bytes > MAX_DLQ_PAYLOAD,
      headers: { feed: entry.feed },
      exchange: entry.exchange,
      symbol: entry.symbol,
      deadLetteredAtMs: this.now(),
    };
    await this.producer.send({
      topic: this.topics.deadLetter,
      messages: [
        {
          key: letter.key,
          value: JSON.stringify(letter),
          headers: { 'perpflow-schema': `dead_letter/v${SCHEMA_VERSION}` },
        },
      ],
    });
  }
}
