/** `perpflow <command> [flags]`: the batch-job side of the dataset. */
import { runCompactCli } from './compaction/cli.js';
import { runDatasetsCli } from './datasets/cli.js';
import { runLineageCli } from './lineage/cli.js';
import { runPullCli } from './pull/cli.js';
import { runReportCli } from './report/cli.js';

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  pull: runPullCli,
  compact: runCompactCli,
  lineage: runLineageCli,
  datasets: runDatasetsCli,
  report: runReportCli,
  // The rebuild runs the aligner's own engine: its code lives with the aligner.
  reprocess: async (argv) => (await import('@perpflow/aligner/reprocess')).runReprocessCli(argv),
  'reprocess-worker': async (argv) =>
    (await import('@perpflow/aligner/reprocess')).runReprocessWorkerCli(argv),
};

const [command, ...rest] = process.argv.slice(2);
const run = command === undefined ? undefined : COMMANDS[command];
if (!run) {
  console.error(
    `usage: perpflow <command> [flags]; commands: ${Object.keys(COMMANDS).join(', ')} (try: perpflow pull --help)`,
  );
  process.exit(2);
}
process.exitCode = await run(rest);
