/**
 * exchange-ingest: config → (ccxt exchanges, Redis, Kafka) → live loops + backfill workers → raw topics.
 *
 *   exchange REST/WS ──ccxt──▶ normalize + contract ──▶ Kafka raw topics (acks=all, idempotent)
 *                                     │ violation          └─▶ checkpoint in Redis (after the ack)
 *                                     └──────────────────────▶ perpflow.dlq.v1
 */
import { type ExchangeId, pipelineTopicNames, timeframeMs } from '@perpflow/contracts';
import { createKafkaClient, kafkaSettingsFromConfig, pipelineTopics } from '@perpflow/kafka';
import { crashHook, runService, STACK_HINT } from '@perpflow/runtime';
import { setMaxListeners } from 'node:events';
import { Redis } from 'ioredis';
import { RedisCheckpointStore } from './adapters/checkpoints.js';
import { type CcxtExchange, createExchange, loadMarketsStrict } from './adapters/exchange.js';
import { KafkaRecordSink } from './adapters/kafka-sink.js';
import { startBackfillWorkers } from './backfill/queue.js';
import { endpointOverrides, loadConfig } from './config.js';
import { planLiveRequests } from './domain/request-plan.js';
import { selectSymbols } from './domain/universe.js';
import { RateGate } from './ingest/gate.js';
import { LiveIngestor } from './ingest/live.js';
import { createIngestMetrics } from './metrics.js';

runService({
  name: 'exchange-ingest',
  startHint: STACK_HINT,
  config: () => loadConfig(),
  metrics: () => createIngestMetrics(),
  start: async ({ config, logger, metrics, setReady }) => {
    const now = Date.now;
    const kafka = createKafkaClient(kafkaSettingsFromConfig(config, 'exchange-ingest'), logger);
    const topics = pipelineTopicNames(config.KAFKA_TOPIC_PREFIX);
    const created = await kafka.ensureTopics(pipelineTopics(topics));
    if (created.length) logger.info({ created }, 'created topics');
    const producer = kafka.idempotentProducer();
    await producer.connect();
    const sink = new KafkaRecordSink(producer, now, config.KAFKA_CLIENT_ID || 'exchange-ingest', topics);
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
    // What was published is a fact about the topics: another topic prefix (another pipeline
    // on this Redis) keeps checkpoints of its own.
    const checkpoints = new RedisCheckpointStore(redis, `perpflow:ckpt:${config.KAFKA_TOPIC_PREFIX}`);

    const abort = new AbortController();
    // Every paced poll and loop sleeps on this one signal: hundreds of listeners are expected.
    setMaxListeners(0, abort.signal);
    const endpoints = endpointOverrides(config);
    const [shardIndex, shardCount] = config.INGEST_SHARD.split('/').map(Number) as [number, number];
    const exchanges = new Map<ExchangeId, { ex: CcxtExchange; gate: RateGate }>();
    const planInput = (exchange: ExchangeId) => ({
      exchange,
      feeds: new Set<string>(config.INGEST_FEEDS),
      candleSource: config.INGEST_CANDLES,
      timeframeMs: timeframeMs(config.INGEST_TIMEFRAME),
      oiPollMs: config.INGEST_OI_POLL_MS,
      fundingPollMs: config.INGEST_FUNDING_POLL_MS,
      fundingHistoryPollMs: config.INGEST_FUNDING_HISTORY_POLL_MS,
      budgetShare: config.INGEST_BUDGET_SHARE,
    });
    const live: Promise<void>[] = [];
    for (const id of config.INGEST_EXCHANGES) {
      let ingestor: LiveIngestor | null = null;
      // The throttle caps the whole process (live + backfill) at its share of the budget.
      const throttle = planLiveRequests({ ...planInput(id), symbols: 0 }).rateLimitMs;
      const ex = await createExchange(id, {
        endpoint: endpoints.get(id),
        rateLimitMs: config.INGEST_RATE_LIMIT_MS || (throttle ?? 0),
        logger,
        onLiquidation: (symbol, l) => ingestor?.onLiquidation(symbol, l),
        onKline: (symbol, k) => ingestor?.onKline(symbol, k),
        onWebsocketClosed: (url, err) => ingestor?.onWebsocketClosed(url, err),
        onWebsocketOpened: (url) => ingestor?.onWebsocketOpened(url),
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
      // Fails start-up naming the settings to change when the live loops would not fit the budget.
      const plan = config.INGEST_LIVE
        ? planLiveRequests({ ...planInput(id), symbols: symbols.length })
        : null;
      logger.info(
        {
          exchange: id,
          symbols: symbols.length,
          shard: config.INGEST_SHARD,
          plannedUnitsPerMinute: plan && Math.ceil(plan.plannedUnitsPerMinute),
          allowedUnitsPerMinute: plan && Math.floor(plan.allowedUnitsPerMinute),
          throttleMsPerUnit: config.INGEST_RATE_LIMIT_MS || throttle,
        },
        'universe selected',
      );
      if (config.INGEST_LIVE) {
        ingestor = new LiveIngestor(
          { ex, exchange: id, symbols, sink, checkpoints, metrics, logger, now, gate },
          {
            timeframe: config.INGEST_TIMEFRAME,
            feeds: new Set(config.INGEST_FEEDS),
            candleSource: config.INGEST_CANDLES,
            candleDelayMs: config.INGEST_CANDLE_DELAY_MS,
            gapCheckMs: config.INGEST_CANDLE_GAP_CHECK_MS,
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
          lockDurationMs: config.INGEST_BACKFILL_LOCK_MS,
          shard: { index: shardIndex, count: shardCount },
          queuePrefix: config.INGEST_BACKFILL_QUEUE,
          atStep: crashHook<'after-job-completed'>(config.INGEST_CRASH_AT, 'INGEST_CRASH_AT'),
        })
      : [];
    setReady(true);
    logger.info(
      { exchanges: config.INGEST_EXCHANGES, live: config.INGEST_LIVE, backfillWorkers: workers.length },
      'exchange-ingest ready',
    );

    return {
      stop: async () => {
        abort.abort();
        await Promise.allSettled(workers.map((w) => w.close()));
        await Promise.allSettled(live);
        await Promise.allSettled([...exchanges.values()].map(({ ex }) => ex.close()));
        await producer.disconnect();
        redis.disconnect();
      },
    };
  },
});
