/**
 * monitor: perpflow.aligned.bar.v1 ──▶ DriftBook (recent vs reference windows per
 * exchange, symbol) ──▶ every MONITOR_EVAL_INTERVAL_MS: PSI, KS, Wasserstein per
 * feature ──▶ gauges + the day's JSON report on S3 (<prefix>/drift/v1/date=…/).
 * Also: freshness SLAs per feed as gauges (the alert rules compare the services'
 * freshness with them) and the lag of configured consumer groups.
 */
import { pipelineTopicNames } from '@perpflow/contracts';
import { createKafkaClient, kafkaSettingsFromConfig, pipelineTopics } from '@perpflow/kafka';
import { runService, STACK_BUCKET_HINT } from '@perpflow/runtime';
import { readConsumerLag } from './adapters/consumer-lag.js';
import { createS3Client } from '@perpflow/s3';
import { S3JsonStore } from './adapters/s3-reports.js';
import { loadConfig } from './config.js';
import { parseBaseline } from './domain/drift-baseline.js';
import { type Baseline, DriftBook } from './domain/drift-book.js';
import { DailyDriftReport } from './domain/drift-report.js';
import { feedFreshnessSlas } from './domain/feed-sla.js';
import { createMonitorMetrics } from './metrics.js';
import { MonitorLoop } from './monitor-loop.js';

runService({
  name: 'monitor',
  startHint: STACK_BUCKET_HINT,
  config: () => loadConfig(),
  metrics: () => createMonitorMetrics(),
  start: async ({ config, logger, metrics, setReady }) => {
    const slas = feedFreshnessSlas({
      timeframe: config.MONITOR_TIMEFRAME,
      candleSeconds: config.MONITOR_SLA_CANDLE_SECONDS,
      openInterestSeconds: config.MONITOR_SLA_OPEN_INTEREST_SECONDS,
      fundingSeconds: config.MONITOR_SLA_FUNDING_SECONDS,
    });
    for (const [feed, seconds] of Object.entries(slas)) metrics.freshnessSla.set({ feed }, seconds);

    const store = new S3JsonStore(createS3Client(config, { maxAttempts: 2 }), config.S3_BUCKET);
    let baseline: Baseline | undefined;
    if (config.MONITOR_BASELINE === 's3') {
      const key = `${config.S3_PREFIX}/${config.MONITOR_BASELINE_KEY}`;
      const doc = await store.getJson(key);
      if (doc === null) throw new Error(`baseline s3://${config.S3_BUCKET}/${key} does not exist`);
      baseline = parseBaseline(doc);
    }
    const thresholds = {
      psiSignificant: config.MONITOR_PSI_SIGNIFICANT,
      psiModerate: config.MONITOR_PSI_MODERATE,
      ksAlpha: config.MONITOR_KS_ALPHA,
      wassersteinNormalized: config.MONITOR_WASSERSTEIN_THRESHOLD,
      minBreachingTests: config.MONITOR_MIN_BREACHING_TESTS as 1 | 2 | 3,
    };
    const book = new DriftBook({
      exchanges: config.MONITOR_EXCHANGES,
      symbols: config.MONITOR_SYMBOLS,
      timeframe: config.MONITOR_TIMEFRAME,
      features: config.MONITOR_FEATURES,
      crossVenue: config.MONITOR_CROSS_VENUE,
      recentMs: config.MONITOR_RECENT_WINDOW_MS,
      referenceMs: config.MONITOR_REFERENCE_WINDOW_MS,
      minSamples: config.MONITOR_MIN_SAMPLES,
      compare: {
        thresholds,
        psi: { bins: config.MONITOR_PSI_BINS, epsilon: config.MONITOR_PSI_EPSILON },
        ks: { exactMaxProduct: config.MONITOR_KS_EXACT_MAX_PRODUCT },
      },
    });
    const report = new DailyDriftReport({
      recentWindowMs: config.MONITOR_RECENT_WINDOW_MS,
      referenceWindowMs: config.MONITOR_REFERENCE_WINDOW_MS,
      reference: config.MONITOR_BASELINE,
      baselineKey: baseline ? config.MONITOR_BASELINE_KEY : null,
      thresholds: { ...thresholds, psiBins: config.MONITOR_PSI_BINS, psiEpsilon: config.MONITOR_PSI_EPSILON },
    });

    const kafka = createKafkaClient(kafkaSettingsFromConfig(config, 'monitor'), logger);
    const topics = pipelineTopicNames(config.KAFKA_TOPIC_PREFIX);
    await kafka.ensureTopics(pipelineTopics(topics));
    const admin = kafka.admin();
    await admin.connect();
    const consumer = kafka.groupConsumer({
      groupId: config.MONITOR_GROUP_ID,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    const loop = new MonitorLoop({
      book,
      report,
      baseline,
      store,
      readLag: () => readConsumerLag(admin, config.MONITOR_LAG_GROUPS),
      metrics,
      logger,
      now: Date.now,
      prefix: config.S3_PREFIX,
    });
    // No commits: the windows live in memory and are rebuilt from the retained topic on start.
    await consumer.consume({
      topics: [topics.alignedBar],
      fromBeginning: config.MONITOR_FROM_BEGINNING,
      handle: async (batch) => loop.handleMessages(batch.messages.map((m) => m.value)),
    });

    const timers = [
      setInterval(() => loop.evaluate(), config.MONITOR_EVAL_INTERVAL_MS),
      setInterval(() => void loop.writeReport(), config.MONITOR_REPORT_INTERVAL_MS),
      setInterval(() => void loop.readLag(), config.MONITOR_LAG_INTERVAL_MS),
    ];
    void loop.readLag();
    setReady(true);
    logger.info(
      {
        group: config.MONITOR_GROUP_ID,
        exchanges: config.MONITOR_EXCHANGES,
        symbols: config.MONITOR_SYMBOLS.length,
        reference: config.MONITOR_BASELINE,
        slas,
      },
      'monitor ready',
    );

    return {
      stop: async () => {
        for (const t of timers) clearInterval(t);
        await Promise.race([loop.writeReport(), new Promise((r) => setTimeout(r, 5_000))]);
        await consumer.disconnect().catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
      },
    };
  },
});
