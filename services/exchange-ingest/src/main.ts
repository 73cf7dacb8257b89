/**
 * exchange-ingest: config → (ccxt exchanges, Redis, Kafka) → live loops + backfill workers → raw topics.
 *
 *   exchange REST/WS ──ccxt──▶ normalize + contract ──▶ Kafka raw topics (acks=all, idempotent)
 *                                     │ violation          └─▶ checkpoint in Redis (after the ack)
 *                                     └──────────────────────▶ perpflow.dlq.v1
 */
import type { ExchangeId } from '@perpflow/contracts';
import {
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  kafkaSettingsFromConfig,
  pipelineTopics,
} from '@perpflow/kafka';
import { startMetricsServer } from '@perpflow/metrics';
import { createLogger } from '@perpflow/runtime';
import { Redis } from 'ioredis';
import { RedisCheckpointStore } from './adapters/checkpoints.js';
import { type CcxtExchange, createExchange, loadMarketsStrict } from './adapters/exchange.js';
import { KafkaRecordSink } from './adapters/kafka-sink.js';
import { startBackfillWorkers } from './backfill/queue.js';
import { endpointOverrides, loadConfig } from './config.js';
import { liveWeightPerMinute, selectSymbols } from './domain/universe.js';
import { RateGate } from './ingest/gate.js';
import { LiveIngestor } from './ingest/live.js';
import { createIngestMetrics } from './metrics.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'exchange-ingest', level: config.LOG_LEVEL });
  const metrics = createIngestMetrics();
  const now = Date.now;
  let ready = false;
  const server = await startMetricsServer({
    registry: metrics.registry,
    host: config.METRICS_HOST,
    port: config.METRICS_PORT,
    ready: () => ({ ok: ready }),
  });
  logger.info({ metrics: server.url }, 'metrics server listening');

  const kafka = createKafka(kafkaSettingsFromConfig(config, 'exchange-ingest'), logger);
  const created = await ensureTopics(kafka, pipelineTopics());
  if (created.length) logger.info({ created }, 'created topics');
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const sink = new KafkaRecordSink(producer, now);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
  const checkpoints = new RedisCheckpointStore(redis);

  const abort = new AbortController();
  const endpoints = endpointOverrides(config);
  const [shardIndex, shardCount] = config.INGEST_SHARD.split('/').map(Number) as [number, number];
  const exchanges = new Map<ExchangeId, { ex: CcxtExchange; gate: RateGate }>();
  const live: Promise<void>[] = [];
  for (const id of config.INGEST_EXCHANGES) {
    let ingestor: LiveIngestor | null = null;
    const ex = createExchange(id, {
      endpoint: endpoints.get(id),
      rateLimitMs: config.INGEST_RATE_LIMIT_MS,
      logger,
      onLiquidation: (symbol, l) => ingestor?.onLiquidation(symbol, l),
    });
    if (endpoints.get(id)?.startsWith('http://')) await ex.loadHttpProxyAgent?.();
    const gate = new RateGate(now);
    exchanges.set(id, { ex, gate });
    const markets = await loadMarketsStrict(ex, metrics, logger);
    const symbols = selectSymbols(id, markets, {
      symbols: config.INGEST_SYMBOLS,
      limit: config.INGEST_SYMBOL_LIMIT,
      shard: { index: shardIndex, count: shardCount },
    });
    const weight = liveWeightPerMinute({
      symbols: symbols.length,
      candlePollsPerMinute: 60_000 / 60_000,
      oiPollMs: config.INGEST_OI_POLL_MS,
      fundingPollMs: config.INGEST_FUNDING_POLL_MS,
      fundingHistoryPollMs: config.INGEST_FUNDING_HISTORY_POLL_MS,
    });
    logger.info(
      { exchange: id, symbols: symbols.length, plannedWeightPerMinute: weight, shard: config.INGEST_SHARD },
      'universe selected',
    );
    if (config.INGEST_LIVE) {
      ingestor = new LiveIngestor(
        { ex, exchange: id, symbols, sink, checkpoints, metrics, logger, now, gate },
        {
          timeframe: config.INGEST_TIMEFRAME,
          feeds: new Set(config.INGEST_FEEDS),
          candleDelayMs: config.INGEST_CANDLE_DELAY_MS,
          oiPollMs: config.INGEST_OI_POLL_MS,
          fundingPollMs: config.INGEST_FUNDING_POLL_MS,
          fundingHistoryPollMs: config.INGEST_FUNDING_HISTORY_POLL_MS,
          concurrency: 8,
        },
      );
      live.push(ingestor.run(abort.signal));
    }
  }
  const workers = config.INGEST_BACKFILL_WORKER
    ? startBackfillWorkers({
        redis,
        exchanges,
        sink,
        checkpoints,
        metrics,
        logger,
        now,
        concurrency: config.INGEST_BACKFILL_CONCURRENCY,
      })
    : [];
  ready = true;
  logger.info(
    { exchanges: config.INGEST_EXCHANGES, live: config.INGEST_LIVE, backfillWorkers: workers.length },
    'exchange-ingest ready',
  );

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    ready = false;
    abort.abort();
    await Promise.allSettled(workers.map((w) => w.close()));
    await Promise.allSettled(live);
    await Promise.allSettled([...exchanges.values()].map(({ ex }) => ex.close()));
    await producer.disconnect();
    redis.disconnect();
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // One place where start-up failures are reported: what failed and what to do next.
  console.error(`exchange-ingest failed to start: ${err instanceof Error ? err.message : String(err)}`);
  if (err?.code === 'CONFIG_INVALID')
    console.error('Fix the named environment variable (see README, Configuration) and start again.');
  else console.error('Is the local stack up? Try: npm run stack -- status');
  process.exit(1);
});
