import {
  Counter,
  createRegistry,
  FreshnessTracker,
  Gauge,
  Histogram,
  type Registry,
} from '@perpflow/metrics';

/** aligner metrics. Labels only from bounded sets (feeds, rule ids, exchanges, configured symbols). */
export function createAlignerMetrics(registry: Registry = createRegistry('aligner')) {
  return {
    registry,
    /** perpflow_feed_freshness_seconds{stage="aligned", feed="bar"}: bar CLOSE times. */
    freshness: new FreshnessTracker(registry, 'aligned'),
    datasetVersion: new Gauge({
      name: 'perpflow_aligner_dataset_version_info',
      help: 'Always 1, labelled with the dataset version id this aligner stamps on its bars',
      labelNames: ['version'],
      registers: [registry],
    }),
    datasetVersionDescriptor: new Gauge({
      name: 'perpflow_aligner_dataset_version_descriptor_written',
      help: '1 once the version descriptor is on S3 (<S3_PREFIX>/versions/<id>/version.json), 0 while not yet or when the one there differs',
      registers: [registry],
    }),
    recordsIn: new Counter({
      name: 'perpflow_aligner_records_in_total',
      help: 'Raw records consumed, per feed',
      labelNames: ['feed'],
      registers: [registry],
    }),
    dlq: new Counter({
      name: 'perpflow_dlq_records_total',
      help: 'Records sent to the dead-letter topic, per stage, feed and rule',
      labelNames: ['stage', 'feed', 'rule'],
      registers: [registry],
    }),
    ruleHits: new Counter({
      name: 'perpflow_quality_rule_hits_total',
      help: 'Quality rule hits per rule and action (reject, drop, flag)',
      labelNames: ['feed', 'rule', 'action'],
      registers: [registry],
    }),
    late: new Counter({
      name: 'perpflow_aligner_late_records_total',
      help: 'Records later than the revision horizon (dead-lettered as late)',
      labelNames: ['feed'],
      registers: [registry],
    }),
    barsEmitted: new Counter({
      name: 'perpflow_aligner_bars_emitted_total',
      help: 'Aligned bars published (revisions included), per timeframe and kind',
      labelNames: ['timeframe', 'kind'],
      registers: [registry],
    }),
    watermarkLag: new Gauge({
      name: 'perpflow_aligner_watermark_lag_seconds',
      help: 'Wall clock minus the stream watermark, per stream',
      labelNames: ['exchange', 'symbol'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'perpflow_aligner_processing_latency_seconds',
      help: 'Newest input receive time → aligned bar acknowledged by Kafka',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'perpflow_aligner_consumer_lag_messages',
      help: 'High watermark minus the last processed offset, per topic and partition',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    snapshots: new Counter({
      name: 'perpflow_aligner_snapshots_total',
      help: 'Partition state snapshots written to Redis',
      registers: [registry],
    }),
    batchFailures: new Counter({
      name: 'perpflow_aligner_batch_failures_total',
      help: 'Steps that failed and are retried, by the raw topic of the records that failed (`state` when Redis or Kafka failed)',
      labelNames: ['topic'],
      registers: [registry],
    }),
    mergeForced: new Counter({
      name: 'perpflow_aligner_merge_forced_total',
      help: 'Records taken ahead of an empty raw topic of their partition without proof it held nothing older (ALIGNER_MERGE_MAX_WAIT_MS ran out), by that topic',
      labelNames: ['topic'],
      registers: [registry],
    }),
    mergeQueued: new Gauge({
      name: 'perpflow_aligner_merge_queued_records',
      help: "Raw records fetched and waiting for their turn in the partition's merged order",
      labelNames: ['partition'],
      registers: [registry],
    }),
    partitionStalled: new Gauge({
      name: 'perpflow_aligner_partition_stalled',
      help: '1 while a partition is paused because the pure step threw on the same batch, or its stored state did not decode (topic `state`), ALIGNER_MAX_BATCH_ATTEMPTS times in a row',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
  };
}
export type AlignerMetrics = ReturnType<typeof createAlignerMetrics>;
