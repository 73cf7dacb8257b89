import { Counter, createRegistry, Gauge, type Registry } from '@perpflow/metrics';

const SERIES = ['exchange', 'symbol', 'feature'] as const;

/** monitor metrics. Labels only from configured sets: exchanges, symbols, features, feeds, consumer groups. */
export function createMonitorMetrics(registry: Registry = createRegistry('monitor')) {
  const gauge = (name: string, help: string, labelNames: readonly string[] = SERIES) =>
    new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
  return {
    registry,
    psi: gauge('perpflow_drift_psi', 'Population Stability Index of the recent window against the reference'),
    ksStatistic: gauge(
      'perpflow_drift_ks_statistic',
      'Two-sample Kolmogorov-Smirnov statistic, recent vs reference',
    ),
    ksPValue: gauge('perpflow_drift_ks_pvalue', 'Two-sided KS p-value, recent vs reference'),
    wasserstein: gauge(
      'perpflow_drift_wasserstein_normalized',
      'Wasserstein-1 distance divided by the reference standard deviation (+Inf: constant reference moved)',
    ),
    breach: gauge('perpflow_drift_breach', '1 when enough drift tests breach their thresholds, else 0'),
    samples: gauge('perpflow_drift_window_samples', 'Feature values in each window', [...SERIES, 'window']),
    evaluations: new Counter({
      name: 'perpflow_drift_evaluations_total',
      help: 'Drift evaluation rounds over all series',
      registers: [registry],
    }),
    lastEvaluation: gauge(
      'perpflow_drift_last_evaluation_timestamp_seconds',
      'Wall time of the last evaluation round',
      [],
    ),
    barsIn: new Counter({
      name: 'perpflow_monitor_bars_in_total',
      help: 'Aligned bars consumed, by outcome (kept, other_series, other_timeframe, invalid)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    reportsWritten: new Counter({
      name: 'perpflow_monitor_reports_written_total',
      help: 'Daily drift reports written to S3 (each rewrite counts)',
      registers: [registry],
    }),
    reportErrors: new Counter({
      name: 'perpflow_monitor_report_errors_total',
      help: 'Failed writes of the drift report or reads of the baseline',
      registers: [registry],
    }),
    freshnessSla: gauge(
      'perpflow_feed_freshness_sla_seconds',
      'Freshness SLA per feed: perpflow_feed_freshness_seconds above it is stale',
      ['feed'],
    ),
    consumerLag: gauge(
      'perpflow_monitor_consumer_lag_messages',
      'Committed offsets behind the log end, summed over partitions, per configured consumer group and topic',
      ['group', 'topic'],
    ),
  };
}
export type MonitorMetrics = ReturnType<typeof createMonitorMetrics>;
