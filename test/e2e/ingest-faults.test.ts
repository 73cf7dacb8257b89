/**
 * exchange-ingest survives every fault the simulator injects, and each shows in
 * its metrics: for each kind, the matching perpflow_ingest_errors_total{kind}
 * series moves while the fault is on, the worker stays up, and once the fault is
 * lifted it keeps publishing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  metricSum,
  type ServiceProcess,
  STACK,
  startService,
  stopService,
  uniqueName,
  waitFor,
} from '../src/harness.js';
import { ensurePipelineTopics } from '../src/kafka-io.js';

const SIM_PORT = await freePort();
const INGEST_PORT = await freePort();
const SIM = `http://127.0.0.1:${SIM_PORT}`;
const INGEST = `http://127.0.0.1:${INGEST_PORT}`;

async function simPost(path: string, body: unknown = {}): Promise<void> {
  const r = await fetch(`${SIM}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}

const errors = (kind: string) => metricSum(INGEST, 'perpflow_ingest_errors_total', { kind });
const published = (feed?: string) =>
  metricSum(INGEST, 'perpflow_ingest_records_published_total', feed ? { feed } : {});

describe('ingest under injected exchange faults', { timeout: 600_000 }, () => {
  const procs: ServiceProcess[] = [];
  let ingest: ServiceProcess;
  before(async () => {
    await ensurePipelineTopics();
    procs.push(
      await startService({
        name: 'sim-faults',
        workspace: 'services/exchange-sim',
        env: { PORT: String(SIM_PORT), SYMBOLS: '4', LIQUIDATION_BURSTS_PER_HOUR: '60' },
        readyPort: null,
      }),
    );
    await waitFor('simulator', async () => (await fetch(`${SIM}/healthz`)).ok, 30_000);
    ingest = await startService({
      name: 'ingest-faults',
      workspace: 'services/exchange-ingest',
      env: {
        KAFKA_BROKERS: STACK.kafkaBrokers,
        REDIS_URL: STACK.redisUrl,
        KAFKA_CLIENT_ID: uniqueName('ingest-faults'),
        INGEST_EXCHANGES: 'binanceusdm',
        INGEST_ENDPOINTS: `binanceusdm=${SIM}`,
        INGEST_BACKFILL_WORKER: 'false',
        // Frequent polls, so that each fault meets requests within seconds.
        INGEST_OI_POLL_MS: '2000',
        INGEST_FUNDING_POLL_MS: '2000',
        METRICS_PORT: String(INGEST_PORT),
      },
      readyPort: INGEST_PORT,
      readyTimeoutMs: 90_000,
    });
    procs.push(ingest);
    await waitFor('first records', async () => (await published()) > 0, 60_000);
  });
  after(async () => {
    for (const p of procs) await stopService(p);
  });

  /**
   * Injects `fault`, waits for the error series to move, lifts it, and checks the worker
   * goes on publishing `feed` (open interest: REST only, so it proves the REST loops are back).
   */
  async function survives(
    kind: string,
    fault: Record<string, unknown>,
    feed = 'open_interest',
    timeoutMs = 60_000,
  ): Promise<void> {
    const before = await errors(kind);
    await simPost('/__sim/faults', fault);
    await waitFor(
      `perpflow_ingest_errors_total{kind="${kind}"} to move`,
      async () => (await errors(kind)) > before,
      timeoutMs,
    );
    await simPost('/__sim/reset');
    const after = await published(feed);
    await waitFor(`publishing ${feed} again`, async () => (await published(feed)) > after, 90_000);
    assert.equal(ingest.child.exitCode, null, 'the worker is still running');
    assert.equal((await fetch(`${INGEST}/healthz`)).status, 200);
  }

  it('HTTP 5xx: counted as unavailable', () => survives('unavailable', { http5xxRate: 0.6 }));
  it('requests that never answer: counted as timeouts', () => survives('timeout', { hangRate: 0.6 }));
  it('malformed JSON and HTML bodies with 200: counted as malformed', () =>
    survives('malformed', { malformedJsonRate: 0.4, htmlRate: 0.3 }));
  it('dropped websockets: counted, and both streams reconnect', async () => {
    await survives('websocket', { dropWebsockets: true }, 'ohlcv');
    for (const feed of ['ohlcv', 'liquidation'])
      await waitFor(
        `${feed} stream connected again`,
        async () => (await metricSum(INGEST, 'perpflow_ingest_stream_connected', { feed })) === 1,
        60_000,
      );
  });
  it('a 429 storm: counted as rate_limited, the worker waits Retry-After instead of hammering', async () => {
    const before = await metricSum(`${SIM}`, 'perpflow_sim_faults_injected_total', {
      kind: 'rate_limited_429',
    });
    await survives('rate_limited', { rateLimitedRate: 1, retryAfterS: 3 });
    const storm =
      (await metricSum(`${SIM}`, 'perpflow_sim_faults_injected_total', { kind: 'rate_limited_429' })) -
      before;
    // It paused on the first 429s (in flight together) instead of retrying into a ban.
    assert.ok(storm >= 1 && storm <= 10, `${storm} requests answered 429`);
  });
  it('a 418 ban: counted as banned, publishing resumes after the ban', async () => {
    const before = await errors('banned');
    await simPost('/__sim/faults', { banMs: 15_000 });
    await waitFor(
      'perpflow_ingest_errors_total{kind="banned"} to move',
      async () => (await errors('banned')) > before,
      60_000,
    );
    const during = await published('open_interest');
    // The ban lifts on its own (no reset): the worker must have honoured Retry-After and come back.
    await waitFor(
      'open interest published after the ban',
      async () => (await published('open_interest')) > during + 2,
      90_000,
    );
    assert.equal(ingest.child.exitCode, null);
  });
});
