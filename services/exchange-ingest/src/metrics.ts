import {
  Counter,
  createRegistry,
  FreshnessTracker,
  Gauge,
  Histogram,
  type Registry,
} from '@perpflow/metrics';

/** exchange-ingest's metrics. Labels only from bounded sets: configured exchanges, symbols, feeds. */
export function createIngestMetrics(registry: Registry = createRegistry('exchange-ingest')) {
  return {
    registry,
    /** perpflow_feed_freshness_seconds{stage="ingest"}: candles observe their bar CLOSE time. */
    freshness: new FreshnessTracker(registry, 'ingest'),
    requests: new Counter({
      name: 'perpflow_ingest_requests_total',
      help: 'Exchange REST requests by method and outcome',
      labelNames: ['exchange', 'method', 'outcome'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'perpflow_ingest_errors_total',
      help: 'Exchange errors by kind (rate_limited, banned, unavailable, timeout, malformed, network, other)',
      labelNames: ['exchange', 'kind'],
      registers: [registry],
    }),
    rateLimitWeight: new Gauge({
      name: 'perpflow_ingest_rate_limit_weight_used',
      help: 'Request weight used in the current minute, as the exchange last reported it',
      labelNames: ['exchange'],
      registers: [registry],
    }),
    published: new Counter({
      name: 'perpflow_ingest_records_published_total',
      help: 'Records acknowledged by Kafka, per feed and source',
      labelNames: ['exchange', 'feed', 'source'],
      registers: [registry],
    }),
    rejected: new Counter({
      // One name for every stage's dead letters (aligner and windower count under it too).
      name: 'perpflow_dlq_records_total',
      help: 'Records sent to the dead-letter topic, per stage, feed and rule',
      labelNames: ['stage', 'feed', 'rule'],
      registers: [registry],
    }),
    publishLatency: new Histogram({
      name: 'perpflow_ingest_publish_latency_seconds',
      help: 'Receive → Kafka ack latency per batch',
      labelNames: ['feed'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    eventDelay: new Histogram({
      name: 'perpflow_ingest_event_delay_seconds',
      help: "Exchange event time (a candle's close) → our receive time, per record published live",
      labelNames: ['exchange', 'feed'],
      buckets: [0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300],
      registers: [registry],
    }),
    gapFills: new Counter({
      name: 'perpflow_ingest_candle_gap_fills_total',
      help: 'Symbols polled by REST after a bar close because their closed candle had not arrived over the websocket',
      labelNames: ['exchange'],
      registers: [registry],
    }),
    backfillProgress: new Gauge({
      name: 'perpflow_backfill_progress_ratio',
      help: 'Completed fraction of each backfill (0..1)',
      labelNames: ['backfill'],
      registers: [registry],
    }),
    backfillJobs: new Counter({
      name: 'perpflow_backfill_jobs_total',
      help: 'Backfill jobs by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    wsConnected: new Gauge({
      name: 'perpflow_ingest_stream_connected',
      help: '1 while the exchange websocket stream is connected (candles: from the first kline; liquidations: from the connection opening, events or none), 0 from the start until then and after a drop',
      labelNames: ['exchange', 'feed'],
      registers: [registry],
    }),
  };
}
export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
