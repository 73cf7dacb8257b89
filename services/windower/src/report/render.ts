/**
 * The report as one self-contained HTML page: inline CSS and SVG, no script but the one
 * that counts what each chart drew (for the headless-browser test and for a reader who
 * wonders whether a chart is empty), no request to anywhere. Every text from data
 * (symbols, rule ids, keys) is escaped.
 *
 * Each chart is a `<figure data-chart="…" data-points="N">` whose N data marks carry
 * class `mark`; a chart with no data says so in words instead and has N = 0.
 */
import type { ReportData } from './summarize.js';

const W = 960;
const PAD = { left: 64, right: 16, top: 12, bottom: 36 };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#17becf', '#e377c2', '#8c564b'];

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const short = (ms: number, stepMs: number) =>
  stepMs >= 86_400_000 ? iso(ms).slice(0, 10) : iso(ms).slice(5, 16).replace('T', ' ');
const fmt = (x: number) =>
  Math.abs(x) >= 1000 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : Number(x.toPrecision(3)).toString();

interface Frame {
  height: number;
  x: (i: number) => number;
  y: (v: number) => number;
  /** Axes, grid and x labels. */
  svg: string;
}

/** Axes for `n` slots along x (labels from `label`) and [0, max] along y. */
function frame(n: number, max: number, label: (i: number) => string, unit: string, height = 220): Frame {
  const top = max > 0 ? max : 1;
  const innerW = W - PAD.left - PAD.right;
  const innerH = height - PAD.top - PAD.bottom;
  // Slot i is [i, i + 1) of n along x; its mark sits at its middle (columns and dots line up).
  const x = (i: number) => PAD.left + ((i + 0.5) * innerW) / Math.max(1, n);
  const y = (v: number) => PAD.top + innerH - (Math.min(v, top) / top) * innerH;
  let svg = '';
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg += `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`;
    svg += `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`;
  }
  svg += `<text x="12" y="${PAD.top + innerH / 2}" transform="rotate(-90 12 ${PAD.top + innerH / 2})" text-anchor="middle">${escapeHtml(unit)}</text>`;
  const every = Math.max(1, Math.ceil(n / 8));
  for (let i = 0; i < n; i += every)
    svg += `<text x="${x(i)}" y="${height - 12}" text-anchor="middle">${escapeHtml(label(i))}</text>`;
  return { height, x, y, svg };
}

interface Line {
  name: string;
  values: readonly (number | null)[];
}

/** Lines broken where a value is null, a dot (the mark) on every value. */
function lineChart(
  lines: readonly Line[],
  label: (i: number) => string,
  unit: string,
): { svg: string; points: number } {
  const n = Math.max(0, ...lines.map((l) => l.values.length));
  const max = Math.max(0, ...lines.flatMap((l) => l.values.filter((v): v is number => v !== null)));
  const f = frame(n, max * 1.05, label, unit);
  let body = '';
  let points = 0;
  for (const [k, l] of lines.entries()) {
    const color = PALETTE[k % PALETTE.length];
    let path = '';
    let pen = false;
    for (const [i, v] of l.values.entries()) {
      if (v === null) {
        pen = false;
        continue;
      }
      path += `${pen ? 'L' : 'M'}${f.x(i).toFixed(1)},${f.y(v).toFixed(1)}`;
      pen = true;
    }
    if (path) body += `<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`;
    for (const [i, v] of l.values.entries()) {
      if (v === null) continue;
      points++;
      body += `<circle class="mark" cx="${f.x(i).toFixed(1)}" cy="${f.y(v).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeHtml(`${l.name} ${label(i)}: ${fmt(v)} ${unit}`)}</title></circle>`;
    }
  }
  return { svg: svgOf(f.height, f.svg + body), points };
}

/** Columns per slot, the groups side by side. */
function columnChart(
  groups: readonly Line[],
  label: (i: number) => string,
  unit: string,
): { svg: string; points: number } {
  const n = Math.max(0, ...groups.map((g) => g.values.length));
  const max = Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v ?? 0)));
  const f = frame(n, max, label, unit);
  const slot = (W - PAD.left - PAD.right) / Math.max(1, n);
  const bw = Math.max(2, (slot * 0.8) / Math.max(1, groups.length));
  let body = '';
  let points = 0;
  for (const [k, g] of groups.entries())
    for (const [i, v] of g.values.entries()) {
      if (!v) continue;
      points++;
      const x = f.x(i) - (bw * groups.length) / 2 + k * bw;
      const y = f.y(v);
      body += `<rect class="mark" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(1, f.y(0) - y).toFixed(1)}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeHtml(`${g.name} ${label(i)}: ${v}`)}</title></rect>`;
    }
  return { svg: svgOf(f.height, f.svg + body), points };
}

function svgOf(height: number, inner: string): string {
  return `<svg viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img">${inner}</svg>`;
}

function legend(names: readonly string[]): string {
  return `<p class="legend">${names
    .map((n, k) => `<span><i style="background:${PALETTE[k % PALETTE.length]}"></i>${escapeHtml(n)}</span>`)
    .join('')}</p>`;
}

function figure(
  id: string,
  title: string,
  what: string,
  chart: { svg: string; points: number } | null,
  empty: string,
  extra = '',
): string {
  const points = chart?.points ?? 0;
  const body = points > 0 && chart ? chart.svg : `<p class="empty">${escapeHtml(empty)}</p>`;
  return `<figure data-chart="${id}" data-points="${points}"><figcaption><h2>${escapeHtml(title)}</h2><p>${escapeHtml(what)}</p></figcaption>${body}${extra}</figure>`;
}

/** Coverage: one row per series, one cell per bucket, red (0) to green (1); grey where no bar was due. */
function coverageChart(r: ReportData): { svg: string; points: number } {
  const rowH = 16;
  const labelW = 220;
  const n = r.buckets.length;
  const cellW = (W - labelW - PAD.right) / Math.max(1, n);
  const height = PAD.top + r.series.length * rowH + PAD.bottom;
  let svg = '';
  let points = 0;
  for (const [k, s] of r.series.entries()) {
    const y = PAD.top + k * rowH;
    svg += `<text x="${labelW - 6}" y="${y + rowH - 4}" text-anchor="end">${escapeHtml(`${s.exchange} ${s.symbol}`)}</text>`;
    for (const [i, c] of s.coverage.entries()) {
      const x = labelW + i * cellW;
      const at = short(r.buckets[i] as number, r.bucketMs);
      if (c === null) {
        svg += `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(1, cellW - 1).toFixed(1)}" height="${rowH - 2}" fill="#e5e5e5"><title>${escapeHtml(`${s.symbol} ${at}: no bar due`)}</title></rect>`;
        continue;
      }
      points++;
      const hue = Math.round(120 * c);
      svg += `<rect class="mark" x="${x.toFixed(1)}" y="${y}" width="${Math.max(1, cellW - 1).toFixed(1)}" height="${rowH - 2}" fill="hsl(${hue},70%,45%)"><title>${escapeHtml(`${s.exchange} ${s.symbol} ${at}: ${(100 * c).toFixed(1)} % of bars present`)}</title></rect>`;
    }
  }
  const every = Math.max(1, Math.ceil(n / 8));
  for (let i = 0; i < n; i += every)
    svg += `<text x="${(labelW + i * cellW).toFixed(1)}" y="${height - 12}">${escapeHtml(short(r.buckets[i] as number, r.bucketMs))}</text>`;
  return { svg: svgOf(height, svg), points };
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0}figure{margin:28px 0;padding:0}
figcaption p,.meta{color:#555;margin:2px 0 8px}svg text{font-size:11px;fill:#444}.grid{stroke:#ddd}
.empty{padding:24px;border:1px dashed #bbb;color:#777}.legend span{margin-right:16px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;margin-top:8px;font-size:12px}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.summary td:nth-child(n+3){text-align:right}`;

/** After layout: how many marks of each chart have a visible size (figure[data-rendered]). */
const COUNT_SCRIPT = `for(const f of document.querySelectorAll('figure[data-chart]')){let n=0;for(const m of f.querySelectorAll('.mark')){const b=m.getBoundingClientRect();if(b.width>0&&b.height>0)n++}f.dataset.rendered=String(n)}document.body.dataset.ready='1'`;

export function renderReport(r: ReportData): string {
  const label = (i: number) => short(r.buckets[i] as number, r.bucketMs);
  const bucket = `${r.bucketMs / 60_000 >= 60 ? `${r.bucketMs / 3_600_000} h` : `${r.bucketMs / 60_000} min`} buckets`;
  const hasBars = r.series.some((s) => s.rows > 0);

  const summaryRows = r.series.map((s) => [
    s.exchange,
    s.symbol,
    String(s.rows),
    String(s.missingBars),
    s.rows + s.missingBars === 0 ? '–' : `${((100 * s.rows) / (s.rows + s.missingBars)).toFixed(2)} %`,
    String(s.revised),
    s.lagP50S === null ? '–' : fmt(s.lagP50S),
    s.lagMaxS === null ? '–' : fmt(s.lagMaxS),
    s.indexFound ? '' : 'no series index',
  ]);
  const gapRows = r.series.flatMap((s) =>
    s.longestGaps.map((g) => [s.exchange, s.symbol, iso(g.startMs), iso(g.endMs), String(g.bars)]),
  );

  const coverage = figure(
    'coverage',
    'Coverage and gaps per series',
    `Share of the bars due in each of the ${bucket} that the dataset holds (green: all, red: none, grey: none due yet). Gaps are counted as perpflow pull counts them.`,
    hasBars || r.series.some((s) => s.missingBars > 0) ? coverageChart(r) : null,
    'No series has bars or gaps in this range.',
    table(['exchange', 'symbol', 'gap from', 'gap to', 'missing bars'], gapRows.slice(0, 40)),
  );
  const freshness = figure(
    'freshness',
    'Freshness over time',
    `Seconds from a bar's close to when its last input was received (known_at − close), median and worst per bucket, over ${r.freshness.bars} bars.`,
    hasBars
      ? lineChart(
          [
            { name: 'median', values: r.freshness.p50S },
            { name: 'worst', values: r.freshness.maxS },
          ],
          label,
          'seconds',
        )
      : null,
    'No bars in this range, so no freshness to show.',
    legend(['median', 'worst']),
  );
  const rules = r.deadLetters.byRule;
  const byRuleChart =
    rules.length === 0
      ? null
      : columnChart(
          [{ name: 'dead letters', values: rules.map((x) => x.count) }],
          (i) => `${rules[i]?.ruleId ?? ''}`,
          'dead letters',
        );
  const deadLetters = figure(
    'dead-letters',
    'Dead letters by rule',
    `Records a stage quarantined in this range (from the raw archive's dead_letter feed: ${r.deadLetters.objects} objects read, ${r.deadLetters.daysWithoutIndex} exchange-days without an archive index), by rule.`,
    byRuleChart,
    r.deadLetters.objects === 0
      ? 'No dead-letter archive in this range (is the archiver running with this S3_PREFIX?).'
      : 'No dead letters in this range.',
    table(
      ['stage', 'rule', 'dead letters'],
      rules.map((x) => [x.stage, x.ruleId, String(x.count)]),
    ),
  );
  const deadLettersTime = figure(
    'dead-letters-time',
    'Dead letters over time',
    `Dead letters per bucket by the time they were quarantined (${r.deadLetters.total} in all).`,
    r.deadLetters.total > 0
      ? columnChart([{ name: 'dead letters', values: r.deadLetters.perBucket }], label, 'dead letters')
      : null,
    'No dead letters in this range.',
  );
  const drift = figure(
    'drift',
    'Drift statistics over time',
    `The monitor's daily reports: per feature, the highest PSI of any series at the day's last evaluation (${r.drift.days.length} days with a report${r.drift.daysMissing.length > 0 ? `, none for ${r.drift.daysMissing.length}` : ''}).`,
    r.drift.features.length > 0
      ? lineChart(
          r.drift.features.map((f) => ({ name: f.feature, values: f.maxPsi })),
          (i) => r.drift.days[i] ?? '',
          'PSI',
        )
      : null,
    'No drift report on S3 for this range (the monitor writes one per UTC day under <prefix>/drift/v1/).',
    `${legend(r.drift.features.map((f) => f.feature))}${table(
      ['feature', ...r.drift.days],
      r.drift.features.map((f) => [f.feature, ...f.breaches.map((b) => (b > 0 ? `${b} breach(es)` : ''))]),
    )}`,
  );
  const revised = r.lateAndRevisions.revisedBars.reduce((a, b) => a + b, 0);
  const late = r.lateAndRevisions.lateDeadLetters.reduce((a, b) => a + b, 0);
  const lateRevisions = figure(
    'late-revisions',
    'Revisions and late data',
    `Per bucket: bars whose latest row is a revision (re-emitted after late input; ${revised} in all) and records dead-lettered as too late (rules late, time.too_old; ${late} in all).`,
    revised + late > 0
      ? columnChart(
          [
            { name: 'revised bars', values: r.lateAndRevisions.revisedBars },
            { name: 'late dead letters', values: r.lateAndRevisions.lateDeadLetters },
          ],
          label,
          'count',
        )
      : null,
    'No revised bars and no late records in this range.',
    legend(['revised bars', 'late dead letters']),
  );

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title>
<meta name="generator" content="perpflow report (${r.schema})"><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(r.title)}</h1>
<p class="meta">${escapeHtml(`${iso(r.fromMs)} to ${iso(r.toMs)} (bar open times, UTC) · ${r.series.length} series · ${r.source} · generated ${iso(r.generatedAtMs)}`)}</p>
${table(['exchange', 'symbol', 'bars', 'missing', 'coverage', 'revised', 'lag p50 s', 'lag max s', ''], summaryRows).replace('<table>', '<table class="summary">')}
${coverage}
${freshness}
${deadLetters}
${deadLettersTime}
${drift}
${lateRevisions}
<script type="application/json" id="report-data">${JSON.stringify(r).replace(/</g, '\\u003c')}</script>
<script>${COUNT_SCRIPT}</script>
</body></html>
`;
}
