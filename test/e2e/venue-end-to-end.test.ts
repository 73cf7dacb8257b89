/**
 * Each venue beyond the first two, end to end: the simulator speaking the venue's wire
 * format → unmodified ccxt in exchange-ingest (backfill: candles, open interest,
 * funding) → Kafka → aligner → windower → Parquet on S3, read back through the
 * manifests. Every bar's candle must equal the simulator's market model for the same
 * seed (computed here, not served), and the bar must carry the venue's semantics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AlignedBar,
  type ExchangeId,
  LIQUIDATION_SEMANTICS,
  OPEN_INTEREST_HISTORY,
} from '@perpflow/contracts';
import { createMarketModel, hyperliquidPx } from '@perpflow/exchange-sim';
import { deletePrefix, readStoredDataset, testS3 } from '../src/dataset-io.js';
import {
  freePort,
  runTool,
  type ServiceProcess,
  STACK,
  STACK_S3_CREDENTIALS,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { ensurePipelineTopics } from '../src/kafka-io.js';

const SEED = 29;
const SYMBOL_COUNT = 5;
const DAY = 86_400_000;
const MINUTE = 60_000;
/** The model's symbol of a ccxt symbol: `BTC/USDT:USDT` and Hyperliquid's `BTC/USDC:USDC` are both `BTCUSDT`. */
const modelId = (s: string) => `${s.split('/')[0]}USDT`;

/**
 * The venues this file takes end to end: a cheap request that says the simulator serves
 * them, the symbols, and how many days back the day taken starts (within the venue's
 * shortest history: OKX keeps the latest 1,440 five-minute open-interest points, 5 days;
 * Hyperliquid the latest 5,000 candles, 3.5 days), and the model's price as the venue
 * writes it (Hyperliquid: 5 significant figures, at most 6 − szDecimals decimals).
 */
const VENUES: {
  id: ExchangeId;
  ping: () => Promise<Response>;
  symbols: string[];
  daysBack: number;
  price: (p: number, qtyDecimals: number) => number;
  /** Every symbol's funding interval when the venue has one for all (Hyperliquid: hourly); else the model's per symbol. */
  fundingIntervalMs?: number;
}[] = [
  {
    id: 'okx',
    ping: () => fetch(`${sim}/www.okx.com/api/v5/public/time`),
    symbols: ['BTC/USDT:USDT', 'SOL/USDT:USDT'],
    daysBack: 3,
    price: (p) => p,
  },
  {
    id: 'hyperliquid',
    ping: () =>
      fetch(`${sim}/api.hyperliquid.xyz/info`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'meta' }),
      }),
    symbols: ['BTC/USDC:USDC', 'SOL/USDC:USDC'],
    daysBack: 2,
    price: (p, qtyDecimals) => Number(hyperliquidPx(p, qtyDecimals)),
    fundingIntervalMs: 3_600_000,
  },
];
let sim = '';

describe('new venues end to end, simulator to S3', { timeout: 600_000 }, () => {
  const procs: ServiceProcess[] = [];
  const s3 = testS3();
  const prefix = uniqueName('e2e-venues');
  let alignerPort = 0;
  const truth = createMarketModel({ seed: SEED, symbolCount: SYMBOL_COUNT });

  before(async () => {
    await ensurePipelineTopics();
    const simPort = await freePort();
    sim = `http://127.0.0.1:${simPort}`;
    procs.push(
      await startService({
        name: 'sim-venues',
        workspace: 'services/exchange-sim',
        env: {
          PORT: String(simPort),
          SYMBOLS: String(SYMBOL_COUNT),
          SEED: String(SEED),
          OI_RETENTION_DAYS: '3650',
        },
        readyPort: null,
      }),
    );
    for (const v of VENUES)
      await waitFor(`simulator serving ${v.id}`, async () => (await v.ping()).ok, 30_000);
    alignerPort = await freePort();
    const windowerPort = await freePort();
    // Both join at the log end with groups of their own: they see only what this file publishes
    // (and other files' records of other days, which the checks below leave out).
    procs.push(
      await startService({
        name: 'aligner-venues',
        workspace: 'services/aligner',
        env: {
          KAFKA_BROKERS: STACK.kafkaBrokers,
          REDIS_URL: STACK.redisUrl,
          ALIGNER_GROUP_ID: uniqueName('venues'),
          ALIGNER_FROM_BEGINNING: 'false',
          METRICS_PORT: String(alignerPort),
        },
        readyPort: alignerPort,
        readyTimeoutMs: 90_000,
      }),
      await startService({
        name: 'windower-venues',
        workspace: 'services/windower',
        env: {
          KAFKA_BROKERS: STACK.kafkaBrokers,
          S3_ENDPOINT: STACK.s3Endpoint,
          S3_BUCKET: STACK.s3Bucket,
          S3_PREFIX: prefix,
          ...STACK_S3_CREDENTIALS,
          WINDOWER_GROUP_ID: uniqueName('venues-windower'),
          WINDOWER_FROM_BEGINNING: 'false',
          WINDOWER_FLUSH_INTERVAL_MS: '1000',
          METRICS_PORT: String(windowerPort),
        },
        readyPort: windowerPort,
        readyTimeoutMs: 90_000,
      }),
    );
  });
  after(async () => {
    for (const p of procs.reverse()) await stopService(p);
    await deletePrefix(s3, prefix);
  });

  for (const venue of VENUES) {
    const SYMBOLS = venue.symbols;
    it(`${venue.id}: every bar's candle equals the market model, with open interest, funding and the venue's liquidation semantics`, async () => {
      // A whole UTC day within the venue's history reach; no other test writes these venues' records.
      const from = Math.floor(Date.now() / DAY) * DAY - venue.daysBack * DAY;
      const to = from + DAY;
      const ingestPort = await freePort();
      const queue = uniqueName(`e2e-${venue.id}`);
      const ingest = await startService({
        name: `ingest-${venue.id}`,
        workspace: 'services/exchange-ingest',
        env: {
          KAFKA_BROKERS: STACK.kafkaBrokers,
          REDIS_URL: STACK.redisUrl,
          INGEST_EXCHANGES: venue.id,
          INGEST_ENDPOINTS: `${venue.id}=${sim}`,
          INGEST_LIVE: 'false',
          INGEST_BACKFILL_QUEUE: queue,
          METRICS_PORT: String(ingestPort),
        },
        readyPort: ingestPort,
        readyTimeoutMs: 90_000,
      });
      procs.push(ingest);
      const cli = runTool(
        'services/exchange-ingest',
        'src/cli.ts',
        [
          'start',
          '--exchange',
          venue.id,
          '--symbols',
          SYMBOLS.join(','),
          '--from',
          String(from),
          '--to',
          String(to),
        ],
        { REDIS_URL: STACK.redisUrl, INGEST_BACKFILL_QUEUE: queue },
      );
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, new RegExp(`${venue.id} allows one IP: ohlcv 2,880 rows`));

      const ofVenue = (bars: AlignedBar[]) =>
        bars.filter(
          (b) =>
            b.exchange === venue.id &&
            SYMBOLS.includes(b.symbol) &&
            b.eventTimeMs >= from &&
            b.eventTimeMs < to,
        );
      const bars = await waitFor(
        `${SYMBOLS.length} × 1,440 ${venue.id} bars in S3`,
        async () => {
          const got = ofVenue((await readStoredDataset(s3, prefix)).latest);
          return got.length >= SYMBOLS.length * 1440 ? got : null;
        },
        400_000,
        2_000,
      );
      assert.equal(bars.length, SYMBOLS.length * 1440, 'each bar once');
      for (const symbol of SYMBOLS) {
        const expected = truth.candles(modelId(symbol), MINUTE, from, to - MINUTE);
        const qtyDecimals = truth.symbols.find((x) => x.id === modelId(symbol))?.qtyDecimals ?? -1;
        const px = (p: number) => venue.price(p, qtyDecimals);
        const mine = bars.filter((b) => b.symbol === symbol).sort((a, b) => a.eventTimeMs - b.eventTimeMs);
        assert.deepEqual(
          mine.map((b) => [b.eventTimeMs, b.open, b.high, b.low, b.close, b.volume]),
          expected.map((c) => [c.openTimeMs, ...[c.open, c.high, c.low, c.close].map(px), c.volume]),
          `${venue.id} ${symbol}: candles`,
        );
        if (OPEN_INTEREST_HISTORY[venue.id]) {
          const withOi = mine.filter((b) => b.openInterest !== null && b.openInterest > 0);
          assert.ok(withOi.length >= 1400, `${symbol}: ${withOi.length} of 1,440 bars with open interest`);
        } else {
          // No open-interest history at the venue: a backfilled bar has none, and says why.
          assert.deepEqual(
            [...new Set(mine.map((b) => `${b.openInterest}/${b.openInterestMissing}`))],
            ['null/no_history'],
            `${symbol}: open interest of a venue without history`,
          );
        }
        const withFunding = mine.filter((b) => b.fundingRate !== null);
        assert.ok(withFunding.length >= 1400, `${symbol}: ${withFunding.length} of 1,440 bars with funding`);
        // The backfill reads settlements from the range's start: the interval is known from the
        // second settlement in range on, and then it is the symbol's own.
        const interval = venue.fundingIntervalMs ?? truth.fundingIntervalMs(modelId(symbol));
        const withInterval = mine.filter((b) => b.fundingIntervalMs !== null);
        assert.ok(
          withInterval.length >= 1440 - interval / MINUTE - 1,
          `${symbol}: ${withInterval.length} of 1,440 bars with an interval (every ${interval / 3_600_000} h)`,
        );
        assert.ok(
          withInterval.every((b) => b.fundingIntervalMs === interval),
          `${symbol}: the settlement interval`,
        );
      }
      const semantics = LIQUIDATION_SEMANTICS[venue.id];
      assert.ok(
        bars.every(
          (b) => b.liqPriceKind === semantics.priceKind && b.liqCompleteness === semantics.completeness,
        ),
        `every bar carries ${venue.id}'s liquidation semantics`,
      );
      if (semantics.completeness === 'none')
        assert.deepEqual(
          [...new Set(bars.map((b) => [b.liqLongNotional, b.liqShortNotional, b.liqCount].join('/')))],
          ['//'],
          `${venue.id} has no liquidation source: its figures are null, never 0`,
        );
      await stopService(ingest);
      procs.splice(procs.indexOf(ingest), 1);
    });
  }
});
