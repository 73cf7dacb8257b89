import {
  Counter,
  createRegistry,
  FreshnessTracker,
  Gauge,
  Histogram,
  type Registry,
} from '@perpflow/metrics';

/** The S3 operations timed and counted (a bounded label set). */
export const S3_OPS = ['get', 'put', 'head', 'list', 'delete'] as const;
export type S3Op = (typeof S3_OPS)[number];

/**
 * windower metrics. Labels only from bounded sets: timeframes, S3 operations, and
 * the series seen, capped (see SeriesFreshness).
 */
export function createWindowerMetrics(
  registry: Registry = createRegistry('windower'),
  now: () => number = Date.now,
) {
  return {
    registry,
    /**
     * perpflow_feed_freshness_seconds{stage="s3",exchange,symbol,feed="bar"}: seconds since
     * the newest bar CLOSE durable in S3, computed at scrape time.
     */
    freshness: new FreshnessTracker(registry, 's3', now),
    s3Latency: new Histogram({
      name: 'perpflow_windower_s3_request_duration_seconds',
      help: 'S3 request latency per operation, failed requests included',
      labelNames: ['op'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    barsIn: new Counter({
      name: 'perpflow_windower_bars_in_total',
      help: 'Aligned bars consumed',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'perpflow_windower_bars_rejected_total',
      help: 'Aligned-topic records dead-lettered, by reason (contract: failed the contract; windower.key: no valid key)',
      labelNames: ['rule'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      // One name for every stage's dead letters (ingest and aligner count under it too).
      name: 'perpflow_dlq_records_total',
      help: 'Records sent to the dead-letter topic, per stage, feed and rule',
      labelNames: ['stage', 'feed', 'rule'],
      registers: [registry],
    }),
    deadLetterSendFailures: new Counter({
      name: 'perpflow_windower_dead_letter_send_failures_total',
      help: 'Sends of pending dead letters that failed; they are kept and sent again at the next flush, and the partition commits stay below them',
      registers: [registry],
    }),
    rowsWritten: new Counter({
      name: 'perpflow_windower_rows_written_total',
      help: 'Rows in the Parquet objects written, per timeframe (a rewritten window counts again)',
      labelNames: ['timeframe'],
      registers: [registry],
    }),
    filesWritten: new Counter({
      name: 'perpflow_windower_files_written_total',
      help: 'Parquet objects written (latest and revisions objects; each write adds a manifest)',
      registers: [registry],
    }),
    bytesWritten: new Counter({
      name: 'perpflow_windower_bytes_written_total',
      help: 'Bytes of Parquet objects written',
      registers: [registry],
    }),
    s3Errors: new Counter({
      name: 'perpflow_windower_s3_errors_total',
      help: 'Failed S3 requests per operation (writes are retried with backoff)',
      labelNames: ['op'],
      registers: [registry],
    }),
    freshnessSeriesDropped: new Counter({
      name: 'perpflow_windower_freshness_series_dropped_total',
      help: 'Durable writes of series beyond WINDOWER_FRESHNESS_MAX_SERIES (no freshness label for them)',
      registers: [registry],
    }),
    windowsOpen: new Gauge({
      name: 'perpflow_windower_windows_open',
      help: 'Windows held in memory (open, or closed with unwritten changes)',
      registers: [registry],
    }),
    bufferedRows: new Gauge({
      name: 'perpflow_windower_buffered_rows',
      help: 'Rows held in memory (latest and superseded revisions of the windows held)',
      registers: [registry],
    }),
    consumerPaused: new Gauge({
      name: 'perpflow_windower_consumer_paused',
      help: '1 while consumption is paused (S3 unavailable or buffer full), else 0',
      registers: [registry],
    }),
    compactionJobs: new Counter({
      name: 'perpflow_windower_compaction_jobs_total',
      help: 'Compaction job attempts by kind (scan, month) and outcome (scanned, compacted, recompacted, skipped, error)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    compactionMonths: new Counter({
      name: 'perpflow_windower_compaction_months_compacted_total',
      help: 'Months compacted (object and manifest written), per timeframe and reason (new, stale)',
      labelNames: ['timeframe', 'reason'],
      registers: [registry],
    }),
    compactionSources: new Counter({
      name: 'perpflow_windower_compaction_source_objects_total',
      help: 'Day objects merged into compacted months (verified against their manifest first)',
      labelNames: ['timeframe'],
      registers: [registry],
    }),
    compactionBytes: new Counter({
      name: 'perpflow_windower_compaction_bytes_written_total',
      help: 'Bytes of compacted Parquet objects written',
      registers: [registry],
    }),
    compactionStaleMonths: new Gauge({
      name: 'perpflow_windower_compaction_stale_months',
      help: 'Compacted months whose sources differ from the series index, as of the last scan (readers use the days meanwhile)',
      registers: [registry],
    }),
    durableDelay: new Histogram({
      name: 'perpflow_windower_durable_delay_seconds',
      help: 'From a bar close (event time) to the write that made it durable in S3 (object, manifest, index)',
      buckets: [1, 2, 5, 10, 15, 30, 60, 120, 300, 900, 3600, 86_400],
      registers: [registry],
    }),
  };
}
export type WindowerMetrics = ReturnType<typeof createWindowerMetrics>;
