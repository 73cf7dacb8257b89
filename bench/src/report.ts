import { cpus, loadavg } from 'node:os';

/** A target on one figure: the figure must be >= (at least) or <= (at most) the value. */
export interface Target {
  op: '>=' | '<=';
  value: number;
}

/** One measured figure, beside its reference measured in the same run on the same servers. */
export interface Figure {
  section: string;
  name: string;
  value: number | null;
  unit: string;
  reference?: { name: string; value: number | null };
  /** value / reference.value (null when either is missing). */
  ratio?: number | null;
  target?: Target;
  /** null: no target, or no value to judge. */
  met?: boolean | null;
  /** 1-minute load average and CPU count when the figure was taken. */
  load1: number;
  cpus: number;
  note?: string;
}

export interface FigureInput {
  name: string;
  value: number | null;
  unit: string;
  reference?: { name: string; value: number | null };
  target?: Target;
  note?: string;
}

export function makeFigure(section: string, f: FigureInput): Figure {
  const ratio =
    f.reference && f.value !== null && f.reference.value !== null && f.reference.value !== 0
      ? f.value / f.reference.value
      : f.reference
        ? null
        : undefined;
  const met = f.target ? meets(f.value, f.target) : undefined;
  return {
    section,
    ...f,
    ...(ratio !== undefined ? { ratio } : {}),
    ...(met !== undefined ? { met } : {}),
    load1: Number(loadavg()[0]?.toFixed(2)),
    cpus: cpus().length,
  };
}

export function meets(value: number | null, t: Target): boolean | null {
  if (value === null || !Number.isFinite(value)) return null;
  return t.op === '>=' ? value >= t.value : value <= t.value;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; null when empty. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en');
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** The results table as fixed-width text, one row per figure. */
export function renderTable(figures: readonly Figure[]): string {
  const head = [
    'section',
    'figure',
    'value',
    'unit',
    'reference',
    'ref value',
    'ratio',
    'target',
    'met',
    'load1/cpus',
  ];
  const rows = figures.map((f) => [
    f.section,
    f.name,
    formatNumber(f.value),
    f.unit,
    f.reference?.name ?? '',
    f.reference ? formatNumber(f.reference.value) : '',
    f.ratio === undefined ? '' : formatNumber(f.ratio),
    f.target ? `${f.target.op} ${formatNumber(f.target.value)}` : '',
    f.met === undefined ? '' : f.met === null ? '?' : f.met ? 'yes' : 'NO',
    `${f.load1.toFixed(2)}/${f.cpus}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The same table as Markdown (docs/BENCHMARKS.md). */
export function renderMarkdown(figures: readonly Figure[]): string {
  const head =
    '| section | figure | value | unit | reference | ref value | ratio | target | met | load1/cpus |';
  const sep = '|---|---|---:|---|---|---:|---:|---|---|---|';
  const rows = figures.map(
    (f) =>
      `| ${f.section} | ${f.name} | ${formatNumber(f.value)} | ${f.unit} | ${f.reference?.name ?? ''} | ${
        f.reference ? formatNumber(f.reference.value) : ''
      } | ${f.ratio === undefined ? '' : formatNumber(f.ratio)} | ${
        f.target ? `${f.target.op} ${formatNumber(f.target.value)}` : ''
      } | ${f.met === undefined ? '' : f.met === null ? '?' : f.met ? 'yes' : '**no**'} | ${f.load1.toFixed(2)}/${f.cpus} |`,
  );
  return [head, sep, ...rows].join('\n');
}
