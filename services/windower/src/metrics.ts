import { Counter, createRegistry, FreshnessTracker, Gauge, type Registry } from '@perpflow/metrics';

/** windower metrics. Labels only from bounded sets (timeframes, configured streams). */
export function createWindowerMetrics(registry: Registry = createRegistry('windower')) {
  return {
    registry,
    /** perpflow_feed_freshness_seconds{stage="s3", feed="bar"}: bar CLOSE times durable in S3. */
    freshness: new FreshnessTracker(registry, 's3'),
    barsIn: new Counter({
      name: 'perpflow_windower_bars_in_total',
      help: 'Aligned bars consumed',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'perpflow_windower_bars_rejected_total',
      help: 'Aligned-topic records that failed the contract (skipped)',
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
      help: 'Parquet objects written (each with its manifest)',
      registers: [registry],
    }),
    bytesWritten: new Counter({
      name: 'perpflow_windower_bytes_written_total',
      help: 'Bytes of Parquet objects written',
      registers: [registry],
    }),
    s3Errors: new Counter({
      name: 'perpflow_windower_s3_errors_total',
      help: 'Failed S3 requests (each is retried with backoff)',
      registers: [registry],
    }),
    windowsOpen: new Gauge({
      name: 'perpflow_windower_windows_open',
      help: 'Windows held in memory',
      registers: [registry],
    }),
    bufferedRows: new Gauge({
      name: 'perpflow_windower_buffered_rows',
      help: 'Rows of windows changed since their last write',
      registers: [registry],
    }),
  };
}
export type WindowerMetrics = ReturnType<typeof createWindowerMetrics>;
