/**
 * What the report reads, all from S3 and all verified as its own reader verifies it:
 * - the bars of every series in range, through `pullDataset` (series index, manifests,
 *   sha256 of every object, gaps and missing windows exactly as `perpflow pull` reports
 *   them), merged into a scratch folder and decoded;
 * - the dead letters of the range from the raw archive's dead_letter feed (day indexes,
 *   each object's sha256; a corrupt object stops the report naming it);
 * - the monitor's daily drift reports (`<prefix>/drift/v1/date=…/drift-report.json`).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listArchiveObjects, readArchiveObject, utcDaysOf } from '@perpflow/archive';
import { decodeRecord, type ExchangeId, type Timeframe } from '@perpflow/contracts';
import { decodeParquetToBars, type SeriesId } from '@perpflow/dataset';
import type { FolderLister, ObjectStore } from '@perpflow/s3';
import { z } from 'zod';
import { CompactionStore } from '../adapters/compaction-store.js';
import { pullDataset } from '../pull/pull.js';
import type { DeadLetterInput, DriftDayInput, ReportInput, SeriesInput } from './summarize.js';

export interface ReportRequest {
  /** The dataset prefix (S3_PREFIX): the archive and the drift reports are under it. */
  prefix: string;
  /** The tree the bars come from: `prefix` for the live tree, or a version's tree. */
  treePrefix: string;
  /** Names the tree in the page's header. */
  source: string;
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  /** null: every exchange (or symbol) the tree has. */
  exchanges: readonly string[] | null;
  symbols: readonly string[] | null;
  /** Progress lines (one per step). */
  onStep?: (text: string) => void;
}

const DriftReportSchema = z.object({
  date: z.string(),
  latest: z.array(
    z.object({
      exchange: z.string(),
      symbol: z.string(),
      feature: z.string(),
      psi: z.number().nullable(),
      breach: z.boolean(),
    }),
  ),
  breaches: z.array(z.object({ exchange: z.string(), symbol: z.string(), feature: z.string() })),
});

export class ReportNoSeries extends Error {
  readonly code = 'NO_SERIES';
}

export async function collectReport(
  store: ObjectStore & FolderLister,
  req: ReportRequest,
  nowMs: number = Date.now(),
): Promise<ReportInput> {
  const step = req.onStep ?? (() => undefined);
  const wanted = (s: SeriesId) =>
    s.timeframe === req.timeframe &&
    (req.exchanges === null || req.exchanges.includes(s.exchange)) &&
    (req.symbols === null || req.symbols.includes(s.symbol));
  const listed = (await new CompactionStore(store, req.treePrefix, 'perpflow report').listSeries()).filter(
    wanted,
  );
  // Series named but never written are reported too (no index): that is a finding.
  const named =
    req.exchanges !== null && req.symbols !== null
      ? req.exchanges.flatMap((exchange) =>
          (req.symbols as string[]).map((symbol) => ({ exchange, symbol, timeframe: req.timeframe })),
        )
      : [];
  const all = new Map<string, { exchange: string; symbol: string }>();
  for (const s of [...listed, ...named]) all.set(`${s.exchange}|${s.symbol}`, s);
  if (all.size === 0)
    throw new ReportNoSeries(
      `no ${req.timeframe} series under ${req.treePrefix}/aligned/v1/` +
        `${req.exchanges ? ` for exchange ${req.exchanges.join(',')}` : ''}` +
        `${req.symbols ? ` and symbol ${req.symbols.join(',')}` : ''}: perpflow datasets lists what is there`,
    );

  const series: SeriesInput[] = [];
  const scratch = await mkdtemp(join(tmpdir(), 'perpflow-report-'));
  try {
    let n = 0;
    for (const s of all.values()) {
      step(`bars: ${++n}/${all.size} ${s.exchange} ${s.symbol}`);
      const out = join(scratch, String(n));
      const pulled = await pullDataset(store, {
        exchanges: [s.exchange as ExchangeId],
        symbols: [s.symbol],
        timeframe: req.timeframe,
        fromMs: req.fromMs,
        toMs: req.toMs,
        outDir: out,
        merge: true,
        prefix: req.treePrefix,
      });
      const file = pulled.files.find((f) => f.path.endsWith('merged.parquet'));
      const rows = file ? decodeParquetToBars(new Uint8Array(await readFile(file.path))) : [];
      const r = pulled.series[0];
      series.push({
        exchange: s.exchange,
        symbol: s.symbol,
        indexFound: r?.indexFound ?? false,
        rows,
        gaps: r?.gaps ?? [],
        missingWindows: r?.missingWindows ?? [],
      });
      await rm(out, { recursive: true, force: true });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  // Dead letters: the archive files one under the exchange its payload names.
  const exchanges = [...new Set(series.map((s) => s.exchange))];
  const symbols = req.symbols === null ? null : new Set(req.symbols);
  const deadLetters: DeadLetterInput[] = [];
  let deadLetterObjects = 0;
  let deadLetterDaysWithoutIndex = 0;
  const get = (k: string) => store.get(k);
  for (const exchange of exchanges) {
    const listing = await listArchiveObjects(get, req.prefix, {
      feed: 'dead_letter',
      exchange,
      fromMs: req.fromMs,
      toMs: req.toMs,
    });
    deadLetterDaysWithoutIndex += listing.daysWithoutIndex.length;
    for (const entry of listing.objects) {
      step(`dead letters: ${exchange} ${entry.key}`);
      deadLetterObjects++;
      for (const row of await readArchiveObject(get, entry)) {
        if (row.value === null) continue;
        const d = decodeRecord(
          'dead_letter',
          Buffer.from(row.value.buffer, row.value.byteOffset, row.value.byteLength),
        );
        if (!d.ok) continue;
        const l = d.value;
        if (l.exchange !== exchange || (symbols !== null && (l.symbol === null || !symbols.has(l.symbol))))
          continue;
        deadLetters.push({
          ruleId: l.ruleId,
          stage: l.stage,
          exchange: l.exchange,
          symbol: l.symbol,
          deadLetteredAtMs: l.deadLetteredAtMs,
        });
      }
    }
  }

  // Drift: one report per UTC day of the evaluation.
  const drift: DriftDayInput[] = [];
  const driftDaysMissing: string[] = [];
  const keep = (e: { exchange: string; symbol: string }) =>
    exchanges.includes(e.exchange) && (symbols === null || symbols.has(e.symbol));
  for (const date of utcDaysOf(req.fromMs, req.toMs)) {
    const key = `${req.prefix}/drift/v1/date=${date}/drift-report.json`;
    const raw = await store.get(key);
    if (raw === null) {
      driftDaysMissing.push(date);
      continue;
    }
    step(`drift: ${key}`);
    let parsed: z.infer<typeof DriftReportSchema>;
    try {
      parsed = DriftReportSchema.parse(JSON.parse(new TextDecoder().decode(raw)));
    } catch (err) {
      throw new Error(
        `${key}: not a drift report the monitor writes (${(err as Error).message.slice(0, 300)})`,
      );
    }
    drift.push({
      date,
      latest: parsed.latest.filter(keep).map((l) => ({ ...l, psi: l.psi ?? Number.NaN })),
      breaches: parsed.breaches.filter(keep),
    });
  }

  return {
    title: `perpflow data quality, ${req.timeframe} bars`,
    generatedAtMs: nowMs,
    timeframe: req.timeframe,
    fromMs: req.fromMs,
    toMs: req.toMs,
    source: req.source,
    series,
    deadLetters,
    deadLetterObjects,
    deadLetterDaysWithoutIndex,
    drift,
    driftDaysMissing,
  };
}
