/** `perpflow datasets`: list the dataset versions under S3_PREFIX (see list.ts). */
import { createS3Client, COMMAND_MAX_ATTEMPTS, S3ObjectStore } from '../adapters/s3.js';
import { printS3Hint, readCommand, resolvePrefix, USAGE_EXIT_CODE } from '../cli-common.js';
import type { loadPullConfig } from '../config.js';
import { describeVersions, listDatasetVersions } from './list.js';

const USAGE = `usage: perpflow datasets [--prefix <S3 prefix>] [--json]
  Lists the dataset versions under S3_PREFIX: the live tree (aligned/v1, the version its
  windower pinned in versions/live.json) and every version under versions/, each with the
  config that names it (align, quality, engine), its series, rows and bar span.
  perpflow pull --version <id> reads one of them.`;

export async function runDatasetsCli(argv: string[]): Promise<number> {
  let prefix: string;
  let json = false;
  let config: ReturnType<typeof loadPullConfig>;
  try {
    const parsed = readCommand(argv, {}, USAGE);
    if (!parsed) return 0;
    const { values } = parsed;
    config = parsed.config;
    json = values.json;
    prefix = resolvePrefix(values.prefix, config.S3_PREFIX);
  } catch (err) {
    console.error(`perpflow datasets: ${(err as Error).message}\n${USAGE}`);
    return USAGE_EXIT_CODE;
  }
  try {
    const store = new S3ObjectStore(
      createS3Client(config, { maxAttempts: COMMAND_MAX_ATTEMPTS }),
      config.S3_BUCKET,
    );
    const versions = await listDatasetVersions(store, prefix);
    if (json) console.log(JSON.stringify(versions));
    else for (const line of describeVersions(config.S3_BUCKET, versions)) console.log(line);
    return 0;
  } catch (err) {
    printS3Hint('datasets', err, config);
    return 1;
  }
}
