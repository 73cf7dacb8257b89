import type { Logger } from '@perpflow/runtime';
import type { GroupLag } from './adapters/consumer-lag.js';
import type { JsonObjectStore } from './adapters/s3-reports.js';
import { decodeBarMessage } from './domain/bar-input.js';
import type { Baseline, DriftBook } from './domain/drift-book.js';
import { type DailyDriftReport, driftReportKey } from './domain/drift-report.js';
import { publishDriftGauges } from './drift-gauges.js';
import type { createMonitorMetrics } from './metrics.js';

export interface MonitorLoopDeps {
  book: DriftBook;
  report: DailyDriftReport;
  /** The pinned reference (MONITOR_BASELINE=s3), else undefined: the book's own reference window. */
  baseline: Baseline | undefined;
  store: JsonObjectStore;
  /** Reads the lag of the watched consumer groups (Kafka admin). */
  readLag: () => Promise<GroupLag[]>;
  metrics: ReturnType<typeof createMonitorMetrics>;
  logger: Logger;
  now: () => number;
  /** Dataset prefix: reports go to <prefix>/drift/v1/date=…/. */
  prefix: string;
}

/**
 * What the monitor does, apart from its wiring: bars in (handleMessages), drift evaluated
 * (evaluate), the day's report written (writeReport), consumer lag read (readLag). Each
 * step contains its own failure: a bad bar is counted, a failed evaluation or write is
 * logged and retried next round, so no input or outage stops the others.
 */
export class MonitorLoop {
  constructor(private readonly deps: MonitorLoopDeps) {}

  /** Bars from the aligned topic: each kept, or counted by why not. */
  handleMessages(values: readonly (Buffer | null)[]): void {
    const { book, metrics } = this.deps;
    for (const value of values) {
      const input = decodeBarMessage(value);
      if ('invalid' in input) {
        metrics.barsIn.inc({ outcome: 'invalid' });
        continue;
      }
      metrics.barsIn.inc({ outcome: book.add(input.bar) });
    }
  }

  evaluate(): void {
    const { book, report, metrics, logger } = this.deps;
    const now = this.deps.now();
    try {
      const { results, skipped } = book.evaluate(this.deps.baseline);
      publishDriftGauges(metrics, results, skipped, now);
      report.record(results, now);
      const breaches = results.filter((r) => r.breach);
      if (breaches.length > 0)
        logger.debug(
          { breaches: breaches.map((b) => `${b.exchange} ${b.symbol} ${b.feature}`) },
          'drift breaches',
        );
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'drift evaluation failed');
    }
  }

  async writeReport(): Promise<void> {
    const { report, store, metrics, logger } = this.deps;
    const now = this.deps.now();
    const doc = report.toJSON(now);
    if (!doc) return;
    try {
      await store.putJson(driftReportKey(this.deps.prefix, now), doc);
      metrics.reportsWritten.inc();
    } catch (err) {
      metrics.reportErrors.inc();
      logger.warn({ err: (err as Error).message }, 'drift report not written; next round retries');
    }
  }

  async readLag(): Promise<void> {
    const { metrics, logger } = this.deps;
    try {
      const lags = await this.deps.readLag();
      metrics.consumerLag.reset();
      for (const l of lags) metrics.consumerLag.set({ group: l.group, topic: l.topic }, l.messages);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'consumer lag not read');
    }
  }
}
