import { Counter, createRegistry, Gauge, Histogram, type Registry } from '@perpflow/metrics';

/** The S3 operations timed and counted (a bounded label set). */
export const S3_OPS = ['get', 'put', 'list'] as const;
export type S3Op = (typeof S3_OPS)[number];

/** archiver metrics. Labels only from bounded sets: the archived feeds and S3 operations. */
export function createArchiverMetrics(registry: Registry = createRegistry('archiver')) {
  return {
    registry,
    recordsIn: new Counter({
      name: 'perpflow_archiver_records_in_total',
      help: 'Records consumed per feed (re-deliveries of buffered offsets not counted)',
      labelNames: ['feed'],
      registers: [registry],
    }),
    recordsArchived: new Counter({
      name: 'perpflow_archiver_records_archived_total',
      help: 'Records made durable per feed (object, manifest and index written; a rewrite after a crash counts again)',
      labelNames: ['feed'],
      registers: [registry],
    }),
    recordsUnparsed: new Counter({
      name: 'perpflow_archiver_records_contract_failed_total',
      help: 'Records consumed whose value failed its contract (archived with their bytes and a contract_error)',
      labelNames: ['feed'],
      registers: [registry],
    }),
    flushFailures: new Counter({
      name: 'perpflow_archiver_flush_failures_total',
      help: 'Flushes that failed on an error retrying cannot cure (S3 outages are retried inside the flush and not counted here); the records stay buffered and uncommitted, retried every tick',
      labelNames: ['feed'],
      registers: [registry],
    }),
    objectsWritten: new Counter({
      name: 'perpflow_archiver_objects_written_total',
      help: 'Parquet objects written per feed (each with a manifest)',
      labelNames: ['feed'],
      registers: [registry],
    }),
    bytesWritten: new Counter({
      name: 'perpflow_archiver_bytes_written_total',
      help: 'Bytes of Parquet objects written per feed',
      labelNames: ['feed'],
      registers: [registry],
    }),
    ledgerReplays: new Counter({
      name: 'perpflow_archiver_ledger_replays_total',
      help: 'Flushes that followed a ledger entry left by an earlier writer (a crash or rebalance before its commit)',
      registers: [registry],
    }),
    membershipLost: new Counter({
      name: 'perpflow_archiver_membership_lost_total',
      help: 'Times a commit or heartbeat said this member had left its group (session timeout missed, rebalance): flushing stopped until kafkajs rejoined',
      registers: [registry],
    }),
    bufferedRecords: new Gauge({
      name: 'perpflow_archiver_buffered_records',
      help: 'Records consumed and not yet durable',
      registers: [registry],
    }),
    s3Latency: new Histogram({
      name: 'perpflow_archiver_s3_request_duration_seconds',
      help: 'S3 request latency per operation, failed requests included',
      labelNames: ['op'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    s3Errors: new Counter({
      name: 'perpflow_archiver_s3_errors_total',
      help: 'Failed S3 requests per operation (writes are retried with backoff)',
      labelNames: ['op'],
      registers: [registry],
    }),
    durableDelay: new Histogram({
      name: 'perpflow_archiver_durable_delay_seconds',
      help: 'From consuming a record to the flush that made it durable in S3 (object, manifest, index)',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800],
      registers: [registry],
    }),
  };
}
export type ArchiverMetrics = ReturnType<typeof createArchiverMetrics>;
