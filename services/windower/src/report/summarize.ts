/**
 * The data-quality report's figures, from what collect.ts read: pure, so the numbers a
 * chart draws are tested without servers. Times are bar open times (event time) for
 * bars, the quarantine time for dead letters, the UTC day of the evaluation for drift;
 * all integer ms UTC. Lags are in seconds.
 */
import type { AlignedBar, Timeframe } from '@perpflow/contracts';
import { timeframeMs } from '@perpflow/contracts';
import type { BarGap, TimeRange } from '@perpflow/dataset';

/** Rules whose dead letters are late data (the align engine's and the quality rules'). */
export const LATE_RULES: ReadonlySet<string> = new Set(['late', 'time.too_old']);

/** Bucket widths a report picks from: the smallest that gives at most MAX_BUCKETS. */
const BUCKET_CHOICES_MS = [60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000];
export const MAX_BUCKETS = 168;

export function bucketWidthMs(fromMs: number, toMs: number, timeframe: Timeframe): number {
  const tf = timeframeMs(timeframe);
  for (const w of BUCKET_CHOICES_MS) if (w >= tf && (toMs - fromMs) / w <= MAX_BUCKETS) return w;
  return Math.max(tf, Math.ceil((toMs - fromMs) / MAX_BUCKETS / 86_400_000) * 86_400_000);
}

/** One series as pull read it: its latest rows in range, and what pull found missing. */
export interface SeriesInput {
  exchange: string;
  symbol: string;
  indexFound: boolean;
  rows: readonly AlignedBar[];
  gaps: readonly BarGap[];
  missingWindows: readonly TimeRange[];
}

/** A dead letter of the range, as the archive holds it (already decoded). */
export interface DeadLetterInput {
  ruleId: string;
  stage: string;
  exchange: string | null;
  symbol: string | null;
  deadLetteredAtMs: number;
}

/** One UTC day's drift report (services/monitor drift-report.ts), only the fields drawn. */
export interface DriftDayInput {
  date: string;
  latest: { exchange: string; symbol: string; feature: string; psi: number; breach: boolean }[];
  breaches: { exchange: string; symbol: string; feature: string }[];
}

export interface ReportInput {
  title: string;
  generatedAtMs: number;
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  /** The tree read (live, or a version) and the prefix, for the page's header. */
  source: string;
  series: readonly SeriesInput[];
  deadLetters: readonly DeadLetterInput[];
  /** Archive objects of the dead-letter feed read, and days with no archive index. */
  deadLetterObjects: number;
  deadLetterDaysWithoutIndex: number;
  drift: readonly DriftDayInput[];
  /** Days of the range with no drift report on S3. */
  driftDaysMissing: readonly string[];
}

export interface SeriesSummary {
  exchange: string;
  symbol: string;
  indexFound: boolean;
  rows: number;
  missingBars: number;
  /** Present ÷ (present + missing) per bucket; null where no bar was due. */
  coverage: (number | null)[];
  /** Rows whose latest revision is above 0 (re-emitted after late data). */
  revised: number;
  /** Median and worst lag of the series, seconds (known_at − bar close). */
  lagP50S: number | null;
  lagMaxS: number | null;
  /** The longest gaps (missing bars or whole windows), longest first, at most 5. */
  longestGaps: { startMs: number; endMs: number; bars: number }[];
}

export interface ReportData {
  schema: 'perpflow.report.v1';
  title: string;
  source: string;
  generatedAtMs: number;
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  bucketMs: number;
  /** Bucket start times, [fromMs, toMs) cut in bucketMs steps. */
  buckets: number[];
  series: SeriesSummary[];
  freshness: { p50S: (number | null)[]; maxS: (number | null)[]; bars: number };
  deadLetters: {
    total: number;
    byRule: { ruleId: string; stage: string; count: number }[];
    perBucket: number[];
    objects: number;
    daysWithoutIndex: number;
  };
  lateAndRevisions: { revisedBars: number[]; lateDeadLetters: number[] };
  drift: {
    days: string[];
    features: { feature: string; maxPsi: (number | null)[]; breaches: number[] }[];
    daysMissing: string[];
  };
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function summarize(input: ReportInput): ReportData {
  const { fromMs, toMs } = input;
  const tf = timeframeMs(input.timeframe);
  const bucketMs = bucketWidthMs(fromMs, toMs, input.timeframe);
  const first = Math.floor(fromMs / bucketMs) * bucketMs;
  const buckets: number[] = [];
  for (let t = first; t < toMs; t += bucketMs) buckets.push(t);
  const bucketOf = (t: number) => Math.floor((t - first) / bucketMs);
  const inRange = (t: number) => t >= fromMs && t < toMs;

  const lagsByBucket: number[][] = buckets.map(() => []);
  const revisedBars = buckets.map(() => 0);
  const series: SeriesSummary[] = [];
  let lagBars = 0;
  for (const s of input.series) {
    const present = buckets.map(() => 0);
    const missing = buckets.map(() => 0);
    const lags: number[] = [];
    let revised = 0;
    for (const b of s.rows) {
      if (!inRange(b.eventTimeMs)) continue;
      const i = bucketOf(b.eventTimeMs);
      present[i]!++;
      const lag = (b.knownAtMs - (b.eventTimeMs + tf)) / 1000;
      lags.push(lag);
      lagsByBucket[i]!.push(lag);
      if (b.revision > 0) {
        revised++;
        revisedBars[i]!++;
      }
    }
    lagBars += lags.length;
    const gaps: { startMs: number; endMs: number; bars: number }[] = [];
    let missingBars = 0;
    // Whole windows the index lacks count only up to now: a window still to come is not missing.
    const spans = [
      ...s.gaps.map((g) => ({ startMs: g.startMs, endMs: g.endMs })),
      ...s.missingWindows.map((w) => ({
        startMs: Math.max(w.startMs, fromMs),
        endMs: Math.min(w.endMs, toMs, Math.floor(input.generatedAtMs / tf) * tf),
      })),
    ];
    for (const g of spans) {
      let bars = 0;
      for (let t = Math.ceil(g.startMs / tf) * tf; t < g.endMs; t += tf) {
        if (!inRange(t)) continue;
        missing[bucketOf(t)]!++;
        bars++;
      }
      if (bars > 0) gaps.push({ startMs: g.startMs, endMs: g.endMs, bars });
      missingBars += bars;
    }
    lags.sort((a, b) => a - b);
    series.push({
      exchange: s.exchange,
      symbol: s.symbol,
      indexFound: s.indexFound,
      rows: present.reduce((a, b) => a + b, 0),
      missingBars,
      coverage: present.map((p, i) => (p + missing[i]! === 0 ? null : round3(p / (p + missing[i]!)))),
      revised,
      lagP50S: quantile(lags, 0.5),
      lagMaxS: lags.length > 0 ? (lags[lags.length - 1] as number) : null,
      longestGaps: gaps.sort((a, b) => b.bars - a.bars || a.startMs - b.startMs).slice(0, 5),
    });
  }
  series.sort((a, b) =>
    a.exchange < b.exchange
      ? -1
      : a.exchange > b.exchange
        ? 1
        : a.symbol < b.symbol
          ? -1
          : a.symbol > b.symbol
            ? 1
            : 0,
  );

  const perBucket = buckets.map(() => 0);
  const lateDeadLetters = buckets.map(() => 0);
  const byRule = new Map<string, { ruleId: string; stage: string; count: number }>();
  let total = 0;
  for (const d of input.deadLetters) {
    if (!inRange(d.deadLetteredAtMs)) continue;
    total++;
    const i = bucketOf(d.deadLetteredAtMs);
    perBucket[i]!++;
    if (LATE_RULES.has(d.ruleId)) lateDeadLetters[i]!++;
    const k = `${d.stage}\u0000${d.ruleId}`;
    const r = byRule.get(k) ?? { ruleId: d.ruleId, stage: d.stage, count: 0 };
    r.count++;
    byRule.set(k, r);
  }

  const days = [...input.drift].sort((a, b) => (a.date < b.date ? -1 : 1));
  const featureNames = [...new Set(days.flatMap((d) => d.latest.map((l) => l.feature)))].sort();
  const features = featureNames.map((feature) => ({
    feature,
    maxPsi: days.map((d) => {
      const psis = d.latest.filter((l) => l.feature === feature && Number.isFinite(l.psi)).map((l) => l.psi);
      return psis.length === 0 ? null : round3(Math.max(...psis));
    }),
    breaches: days.map((d) => d.breaches.filter((b) => b.feature === feature).length),
  }));

  return {
    schema: 'perpflow.report.v1',
    title: input.title,
    source: input.source,
    generatedAtMs: input.generatedAtMs,
    timeframe: input.timeframe,
    fromMs,
    toMs,
    bucketMs,
    buckets,
    series,
    freshness: {
      p50S: lagsByBucket.map((l) =>
        quantile(
          l.sort((a, b) => a - b),
          0.5,
        ),
      ),
      maxS: lagsByBucket.map((l) => (l.length === 0 ? null : (l[l.length - 1] as number))),
      bars: lagBars,
    },
    deadLetters: {
      total,
      byRule: [...byRule.values()].sort((a, b) => b.count - a.count || (a.ruleId < b.ruleId ? -1 : 1)),
      perBucket,
      objects: input.deadLetterObjects,
      daysWithoutIndex: input.deadLetterDaysWithoutIndex,
    },
    lateAndRevisions: { revisedBars, lateDeadLetters },
    drift: { days: days.map((d) => d.date), features, daysMissing: [...input.driftDaysMissing] },
  };
}
