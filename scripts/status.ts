/**
 * The live status view of the demo: scrapes every service's /metrics and prints,
 * per stage and feed, records/s, freshness across symbols, dead letters, and
 * files written. Usage: tsx scripts/status.ts [--once | --for-s N] [--interval-ms 2000]
 * Targets: PERPFLOW_STATUS_TARGETS="ingest=http://127.0.0.1:39101,aligner=...".
 */
type Sample = { name: string; labels: Record<string, string>; value: number };

const DEFAULT_TARGETS =
  'exchange-sim=http://127.0.0.1:39200/metrics,ingest=http://127.0.0.1:39101/metrics,aligner=http://127.0.0.1:39102/metrics,windower=http://127.0.0.1:39103/metrics';

export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

async function scrape(url: string): Promise<Sample[] | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_500) });
    return res.ok ? parsePrometheusText(await res.text()) : null;
  } catch {
    return null;
  }
}

const sum = (xs: Sample[], pred: (s: Sample) => boolean) => xs.filter(pred).reduce((a, s) => a + s.value, 0);
function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))]!;
}
const fmt = (n: number | null, digits = 0) => (n === null || !Number.isFinite(n) ? '-' : n.toFixed(digits));

interface Row {
  stage: string;
  feed: string;
  total: number;
  freshness: number[];
  dlq: number;
}

/** feedLabel: the label that names the row's feed; feed: a fixed row name instead (bars of every timeframe). */
const COUNTERS: { stage: string; metric: string; feedLabel?: string; feed?: string }[] = [
  { stage: 'ingest', metric: 'perpflow_ingest_records_published_total', feedLabel: 'feed' },
  { stage: 'aligner-in', metric: 'perpflow_aligner_records_in_total', feedLabel: 'feed' },
  // One row with the freshness gauges, which say feed="bar" for aligned and S3 bars.
  { stage: 'aligned', metric: 'perpflow_aligner_bars_emitted_total', feed: 'bar' },
  { stage: 's3', metric: 'perpflow_windower_rows_written_total', feed: 'bar' },
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const once = args.includes('--once');
  // --for-s N: redraw for N seconds, then exit (the demo with DEMO_DURATION_S); rates need
  // two scrapes in one process, which --once in a loop never has.
  const forS = args.indexOf('--for-s');
  const untilMs = forS >= 0 ? Date.now() + Number(args[forS + 1]) * 1000 : Number.POSITIVE_INFINITY;
  const iv = args.indexOf('--interval-ms');
  const intervalMs = iv >= 0 ? Number(args[iv + 1]) : 2_000;
  const targets = (process.env.PERPFLOW_STATUS_TARGETS ?? DEFAULT_TARGETS).split(',').map((t) => {
    const [name, url] = t.split('=');
    return { name: name!, url: url! };
  });
  let previous = new Map<string, { total: number; at: number }>();
  for (;;) {
    const at = Date.now();
    const scraped = await Promise.all(targets.map(async (t) => ({ ...t, samples: await scrape(t.url) })));
    const all = scraped.flatMap((s) => s.samples ?? []);
    const rows = new Map<string, Row>();
    const row = (stage: string, feed: string) => {
      const key = `${stage}|${feed}`;
      let r = rows.get(key);
      if (!r) {
        r = { stage, feed, total: 0, freshness: [], dlq: 0 };
        rows.set(key, r);
      }
      return r;
    };
    for (const c of COUNTERS)
      for (const s of all.filter((x) => x.name === c.metric))
        row(c.stage, c.feed ?? s.labels[c.feedLabel ?? ''] ?? '-').total += s.value;
    for (const s of all.filter((x) => x.name === 'perpflow_feed_freshness_seconds'))
      row(
        s.labels.stage === 'ingest' ? 'ingest' : (s.labels.stage ?? '?'),
        s.labels.feed ?? '-',
      ).freshness.push(s.value);
    for (const s of all.filter(
      (x) => x.name === 'perpflow_dlq_records_total' || x.name === 'perpflow_ingest_records_rejected_total',
    ))
      row(s.labels.stage ?? 'ingest', s.labels.feed ?? '-').dlq += s.value;

    const lines: string[] = [];
    lines.push(`perpflow status  ${new Date(at).toISOString()}  (Ctrl-C stops the demo)`);
    lines.push(
      `services: ${scraped.map((s) => `${s.name} ${s.samples ? '\u001b[32mup\u001b[0m' : '\u001b[31mdown\u001b[0m'}`).join('  ')}`,
    );
    lines.push('');
    lines.push(
      `${'stage'.padEnd(11)}${'feed'.padEnd(15)}${'records'.padStart(10)}${'rec/s'.padStart(9)}${'fresh p50 s'.padStart(13)}${'fresh max s'.padStart(13)}${'streams'.padStart(9)}${'dead letters'.padStart(14)}`,
    );
    const next = new Map<string, { total: number; at: number }>();
    for (const r of [...rows.values()].sort((a, b) => (a.stage + a.feed).localeCompare(b.stage + b.feed))) {
      const key = `${r.stage}|${r.feed}`;
      const prev = previous.get(key);
      const rate = prev && at > prev.at ? ((r.total - prev.total) * 1000) / (at - prev.at) : null;
      next.set(key, { total: r.total, at });
      lines.push(
        `${r.stage.padEnd(11)}${r.feed.padEnd(15)}${fmt(r.total).padStart(10)}${fmt(rate, 1).padStart(9)}${fmt(quantile(r.freshness, 0.5), 1).padStart(13)}${fmt(quantile(r.freshness, 1), 1).padStart(13)}${String(r.freshness.length).padStart(9)}${fmt(r.dlq).padStart(14)}`,
      );
    }
    previous = next;
    const files = sum(all, (s) => s.name === 'perpflow_windower_files_written_total');
    const bytes = sum(all, (s) => s.name === 'perpflow_windower_bytes_written_total');
    const backfills = all.filter((s) => s.name === 'perpflow_backfill_progress_ratio');
    lines.push('');
    lines.push(`S3: ${fmt(files)} files, ${fmt(bytes / 1_048_576, 2)} MiB written`);
    if (backfills.length)
      lines.push(
        `backfills: ${backfills.map((b) => `${b.labels.backfill} ${(b.value * 100).toFixed(0)}%`).join(', ')}`,
      );
    const down = scraped.filter((s) => !s.samples).map((s) => s.name);
    if (down.length) lines.push(`not answering: ${down.join(', ')} — see .data/logs/<service>.log`);
    if (process.stdout.isTTY && !once) process.stdout.write('\u001b[2J\u001b[H');
    console.log(lines.join('\n'));
    if (once || Date.now() >= untilMs) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
