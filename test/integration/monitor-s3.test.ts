/**
 * The monitor's S3 adapter against the stack's S3 server: a pinned baseline written
 * as JSON is read back and parsed into the lookup the drift book takes; a missing
 * key is null (not an error); a drift report round-trips through its schema.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '@perpflow/s3';
import { S3JsonStore } from '../../services/monitor/src/adapters/s3-reports.js';
import { loadConfig } from '../../services/monitor/src/config.js';
import { parseBaseline } from '../../services/monitor/src/domain/drift-baseline.js';
import {
  DailyDriftReport,
  DriftReportSchema,
  driftReportKey,
} from '../../services/monitor/src/domain/drift-report.js';
import { STACK, STACK_S3_CREDENTIALS, uniqueName } from '../src/harness.js';

const config = loadConfig({
  ...STACK_S3_CREDENTIALS,
  S3_ENDPOINT: STACK.s3Endpoint,
  S3_BUCKET: STACK.s3Bucket,
  S3_PREFIX: `test/${uniqueName('monitor-s3')}`,
});
const client = createS3Client(config);
const store = new S3JsonStore(client, config.S3_BUCKET);
const written: string[] = [];

describe('monitor: S3 baselines and reports', () => {
  after(async () => {
    for (const Key of written) await client.send(new DeleteObjectCommand({ Bucket: config.S3_BUCKET, Key }));
  });

  it('reads a pinned baseline back into the drift book lookup; a missing key is null', async () => {
    const key = `${config.S3_PREFIX}/drift/v1/baseline/pinned.json`;
    written.push(key);
    await store.putJson(key, {
      schema: 'perpflow.drift.baseline.v1',
      description: 'integration test',
      series: [{ exchange: 'binanceusdm', symbol: 'BTC/USDT:USDT', feature: 'volume', values: [1, 2.5, 3] }],
    });
    const baseline = parseBaseline(await store.getJson(key));
    assert.deepEqual(baseline.get('binanceusdm|BTC/USDT:USDT|volume'), [1, 2.5, 3]);
    assert.equal(await store.getJson(`${config.S3_PREFIX}/drift/v1/baseline/absent.json`), null);
  });

  it('writes the day report where the report key says, and it parses back', async () => {
    const at = Date.UTC(2026, 10, 23, 12);
    const report = new DailyDriftReport({
      recentWindowMs: 1,
      referenceWindowMs: 2,
      reference: 'trailing',
      baselineKey: null,
      thresholds: {},
    });
    report.record(
      [
        {
          exchange: 'bybit',
          symbol: 'ETH/USDT:USDT',
          feature: 'range',
          kind: 'trailing',
          recentFromMs: at - 60_000,
          recentToMs: at,
          referenceCount: 100,
          recentCount: 50,
          psi: 0.3,
          psiLevel: 'significant',
          ksStatistic: 0.4,
          ksPValue: 1e-5,
          wassersteinNormalized: Infinity,
          breaches: { psi: true, ks: true, wasserstein: true },
          breach: true,
        },
      ],
      at,
    );
    const key = driftReportKey(config.S3_PREFIX, at);
    assert.equal(key, `${config.S3_PREFIX}/drift/v1/date=2026-11-23/drift-report.json`);
    written.push(key);
    await store.putJson(key, report.toJSON(at));
    const doc = DriftReportSchema.parse(await store.getJson(key));
    assert.equal(doc.breaches.length, 1);
    assert.equal(doc.latest[0]?.wassersteinNormalized, null);
  });
});
