import { Gauge, type Registry } from 'prom-client';

export interface FreshnessLabels {
  exchange: string;
  symbol: string;
  feed: string;
}

/**
 * `perpflow_feed_freshness_seconds{stage,exchange,symbol,feed}`: seconds since the
 * newest event time seen, computed at SCRAPE time from the clock, so it keeps
 * rising while a feed is silent. Also exports the newest event time itself.
 */
export class FreshnessTracker {
  private readonly newest = new Map<string, { labels: FreshnessLabels; eventTimeMs: number }>();

  constructor(
    registry: Registry,
    private readonly stage: string,
    private readonly now: () => number = Date.now,
  ) {
    const self = this;
    new Gauge({
      name: 'perpflow_feed_freshness_seconds',
      help: 'Seconds since the newest event time of each stream at this stage, computed at scrape time',
      labelNames: ['stage', 'exchange', 'symbol', 'feed'],
      registers: [registry],
      collect() {
        this.reset();
        const t = self.now();
        for (const { labels, eventTimeMs } of self.newest.values())
          this.set({ stage: self.stage, ...labels }, Math.max(0, (t - eventTimeMs) / 1000));
      },
    });
    new Gauge({
      name: 'perpflow_feed_newest_event_time_seconds',
      help: 'Newest event time of each stream at this stage (Unix seconds)',
      labelNames: ['stage', 'exchange', 'symbol', 'feed'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, eventTimeMs } of self.newest.values())
          this.set({ stage: self.stage, ...labels }, eventTimeMs / 1000);
      },
    });
  }

  /** Records an event time; only moves forward. For candles pass the bar CLOSE time. */
  observe(labels: FreshnessLabels, eventTimeMs: number): void {
    const key = `${labels.exchange}|${labels.symbol}|${labels.feed}`;
    const cur = this.newest.get(key);
    // Moved in place: a new entry per newer event (every bar of a catch-up) was garbage.
    if (!cur) this.newest.set(key, { labels: { ...labels }, eventTimeMs });
    else if (eventTimeMs > cur.eventTimeMs) cur.eventTimeMs = eventTimeMs;
  }

  /** Registers a stream before its first record, so a feed that never starts is visibly stale. */
  expect(labels: FreshnessLabels, sinceMs: number): void {
    const key = `${labels.exchange}|${labels.symbol}|${labels.feed}`;
    if (!this.newest.has(key)) this.newest.set(key, { labels: { ...labels }, eventTimeMs: sinceMs });
  }

  newestOf(labels: FreshnessLabels): number | null {
    return this.newest.get(`${labels.exchange}|${labels.symbol}|${labels.feed}`)?.eventTimeMs ?? null;
  }
}
