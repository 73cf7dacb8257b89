import type { ExchangeId, Feed, Timeframe } from '@perpflow/contracts';
import { timeframeMs } from '@perpflow/contracts';
import type { Logger } from '@perpflow/runtime';
import type { RecordSink } from '../adapters/kafka-sink.js';
import type { Normalized } from '../domain/normalize.js';
import type { IngestMetrics } from '../metrics.js';

/**
 * Publishes normalized records of one (exchange, feed) batch: valid ones to the raw
 * topic (awaiting Kafka's ack), invalid ones to the dead-letter topic with their
 * reason. Returns the valid records published. Never throws on bad records.
 */
export async function publishNormalized<
  T extends { exchange: string; symbol: string; eventTimeMs: number; receivedAtMs: number },
>(
  deps: { sink: RecordSink; metrics: IngestMetrics; logger: Logger; now: () => number },
  ctx: {
    exchange: ExchangeId;
    feed: Feed;
    origin: string;
    source: 'live' | 'backfill';
    timeframe?: Timeframe;
  },
  items: readonly (Normalized<T> & { symbol: string })[],
): Promise<T[]> {
  const good: T[] = [];
  for (const item of items) {
    if (item.ok) good.push(item.value);
    else {
      deps.metrics.rejected.inc({ stage: 'ingest', feed: ctx.feed, rule: item.error.rule });
      deps.metrics.errors.inc({ exchange: ctx.exchange, kind: 'malformed' });
      deps.logger.warn(
        {
          exchange: ctx.exchange,
          symbol: item.symbol,
          feed: ctx.feed,
          origin: ctx.origin,
          err: item.error.message,
        },
        'exchange record broke the contract; sent to the dead-letter topic',
      );
      await deps.sink.deadLetter({
        feed: ctx.feed,
        exchange: ctx.exchange,
        symbol: item.symbol,
        origin: ctx.origin,
        raw: item.raw,
        violation: item.error,
      });
    }
  }
  if (good.length === 0) return good;
  const started = deps.now();
  await deps.sink.publish(ctx.feed, good, ctx.source);
  deps.metrics.publishLatency.observe({ feed: ctx.feed }, (deps.now() - started) / 1000);
  deps.metrics.published.inc({ exchange: ctx.exchange, feed: ctx.feed, source: ctx.source }, good.length);
  const tfMs = ctx.feed === 'ohlcv' && ctx.timeframe ? timeframeMs(ctx.timeframe) : 0;
  for (const r of good) {
    deps.metrics.freshness.observe(
      { exchange: r.exchange, symbol: r.symbol, feed: ctx.feed },
      r.eventTimeMs + tfMs,
    );
    if (ctx.source === 'live')
      deps.metrics.eventDelay.observe(
        { exchange: ctx.exchange, feed: ctx.feed },
        Math.max(0, r.receivedAtMs - (r.eventTimeMs + tfMs)) / 1000,
      );
  }
  return good;
}
