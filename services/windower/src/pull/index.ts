/**
 * The pull client as a library, for batch jobs written in TypeScript:
 *
 *   import { openDatasetStore, pullDataset } from '@perpflow/windower/pull';
 *   const store = openDatasetStore({ S3_ENDPOINT: 'http://127.0.0.1:39000', S3_BUCKET: 'perpflow' });
 *   const report = await pullDataset(store, { exchanges: ['binanceusdm'], symbols: ['BTC/USDT:USDT'],
 *     timeframe: '1m', fromMs, toMs, asOfMs, outDir: './data', prefix: 'datasets' });
 */
import { createS3Client, COMMAND_MAX_ATTEMPTS, type ObjectStore, S3ObjectStore } from '../adapters/s3.js';
import { PullConfigSchema } from '../config.js';

export type { ObjectStore } from '../adapters/s3.js';
export * from './pull.js';

/** An S3 store from S3_* settings (defaults as in docs/CONFIGURATION.md). */
export function openDatasetStore(settings: Record<string, string | undefined> = {}): ObjectStore {
  const config = PullConfigSchema.parse(settings);
  return new S3ObjectStore(createS3Client(config, { maxAttempts: COMMAND_MAX_ATTEMPTS }), config.S3_BUCKET);
}
