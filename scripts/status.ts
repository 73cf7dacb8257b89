/**
 * The live status view of the demo: scrapes every service's /metrics and prints,
 * per stage and feed, records/s, freshness across symbols, dead letters, and
 * files written. Usage: tsx scripts/status.ts [--once | --for-s N [--settle-alert NAME --max-s M]]
 *   [--interval-ms 2000]
 * --settle-alert "NAME label=value ...": past --for-s, keep going until an alert matching it
 * (its name and each label given) has fired and every matching alert that fired has also
 * resolved (by the notifications received), for at most --max-s in all. The demo uses it so that its stall cycle, whose length depends on where in the minute
 * the stall begins (130-190 s to fire), ends inside the run rather than racing a fixed time.
 * Targets: PERPFLOW_STATUS_TARGETS="ingest=http://127.0.0.1:39101,aligner=...".
 * Alerts: ALERTMANAGER_URL (its /api/v2/alerts); ALERT_WEBHOOK_URL on 127.0.0.1: the view
 * receives Alertmanager's notifications there (firing and resolved), appended as JSON lines
 * to PERPFLOW_STATUS_ALERT_LOG. PERPFLOW_STATUS_EVENTS: a file whose lines the view shows (the demo's).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

export type Sample = { name: string; labels: Record<string, string>; value: number };

const DEFAULT_TARGETS =
  'exchange-sim=http://127.0.0.1:39200/metrics,ingest=http://127.0.0.1:39101/metrics,aligner=http://127.0.0.1:39102/metrics,windower=http://127.0.0.1:39103/metrics,monitor=http://127.0.0.1:39104/metrics';

export interface AlertNote {
  status: 'firing' | 'resolved';
  alertname: string;
  labels: Record<string, string>;
  atMs: number;
}
type ActiveAlert = { labels: Record<string, string>; status?: { state?: string } };

/** One line per alert: the name and the labels that say where (bounded sets: stage, exchange, symbol, feed). */
export function describeAlert(labels: Record<string, string>): string {
  const where = ['service', 'stage', 'exchange', 'symbol', 'feed', 'feature']
    .filter((k) => labels[k])
    .map((k) => `${k}=${labels[k]}`);
  return `${labels.alertname ?? '?'} ${where.join(' ')}`.trim();
}

/**
 * True when no alert is to settle, or when an alert matching `match` ("NAME label=value ...":
 * the name and every label given) has fired and each matching alert (by labels) that fired
 * has a resolved notification after its last firing one.
 */
export function settled(notes: readonly AlertNote[], match: string | undefined): boolean {
  if (match === undefined) return true;
  const [name, ...pairs] = match.trim().split(/\s+/);
  const wanted = pairs.map((p) => p.split('=') as [string, string]);
  const last = new Map<string, AlertNote['status']>();
  for (const n of notes)
    if (n.alertname === name && wanted.every(([k, v]) => n.labels[k] === v))
      last.set(describeAlert(n.labels), n.status);
  return last.size > 0 && [...last.values()].every((st) => st === 'resolved');
}

/** Receives Alertmanager's webhook (payload version 4) and keeps every alert it names, firing or resolved. */
function receiveAlerts(
  webhookUrl: string | undefined,
  logPath: string | undefined,
  notes: AlertNote[],
): string {
  if (!webhookUrl) return 'no ALERT_WEBHOOK_URL';
  const url = new URL(webhookUrl);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost')
    return `notifications go to ${webhookUrl}`;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      try {
        const payload = JSON.parse(body) as { alerts?: { status: string; labels: Record<string, string> }[] };
        for (const a of payload.alerts ?? []) {
          const note: AlertNote = {
            status: a.status === 'resolved' ? 'resolved' : 'firing',
            alertname: a.labels.alertname ?? '?',
            labels: a.labels,
            atMs: Date.now(),
          };
          notes.push(note);
          if (logPath) appendFileSync(logPath, `${JSON.stringify(note)}\n`);
        }
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end('expected Alertmanager webhook JSON');
      }
    });
  });
  let state = `receiving on ${webhookUrl}`;
  server.on('error', (e) => {
    state = `could not receive on ${webhookUrl}: ${(e as Error).message}`;
  });
  server.listen(Number(url.port || 80), url.hostname);
  server.unref();
  return state;
}

async function activeAlerts(alertmanagerUrl: string | undefined): Promise<ActiveAlert[] | null> {
  if (!alertmanagerUrl) return null;
  try {
    const res = await fetch(`${alertmanagerUrl}/api/v2/alerts?silenced=false&inhibited=false`, {
      signal: AbortSignal.timeout(1_500),
    });
    return res.ok ? ((await res.json()) as ActiveAlert[]) : null;
  } catch {
    return null;
  }
}

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

/**
 * The samples a redraw counts: each target's answer, or, when its scrape failed (a slow
 * /metrics on a loaded machine), the last answer it gave. Counters then never drop to 0 for
 * one redraw, and the summary lines the demo ends with come from the last redraw. The
 * services line still says the target is down. `last` is updated in place.
 */
export function samplesOf(
  scraped: readonly { name: string; samples: Sample[] | null }[],
  last: Map<string, Sample[]>,
): Sample[] {
  return scraped.flatMap((s) => {
    if (s.samples === null) return last.get(s.name) ?? [];
    last.set(s.name, s.samples);
    return s.samples;
  });
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
  const startedMs = Date.now();
  const untilMs = forS >= 0 ? startedMs + Number(args[forS + 1]) * 1000 : Number.POSITIVE_INFINITY;
  const settle = args.indexOf('--settle-alert');
  const settleAlert = settle >= 0 ? args[settle + 1] : undefined;
  const maxS = args.indexOf('--max-s');
  const hardUntilMs = maxS >= 0 ? startedMs + Number(args[maxS + 1]) * 1000 : untilMs;
  const iv = args.indexOf('--interval-ms');
  const intervalMs = iv >= 0 ? Number(args[iv + 1]) : 2_000;
  const targets = (process.env.PERPFLOW_STATUS_TARGETS ?? DEFAULT_TARGETS).split(',').map((t) => {
    const [name, url] = t.split('=');
    return { name: name!, url: url! };
  });
  const notes: AlertNote[] = [];
  const receiver = receiveAlerts(process.env.ALERT_WEBHOOK_URL, process.env.PERPFLOW_STATUS_ALERT_LOG, notes);
  let previous = new Map<string, { total: number; at: number }>();
  let ingestByFeed = new Map<string, number>();
  const lastAnswers = new Map<string, Sample[]>();
  for (;;) {
    const at = Date.now();
    const scraped = await Promise.all(targets.map(async (t) => ({ ...t, samples: await scrape(t.url) })));
    const all = samplesOf(scraped, lastAnswers);
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
    for (const s of all.filter((x) => x.name === 'perpflow_dlq_records_total'))
      row(s.labels.stage ?? '?', s.labels.feed ?? '-').dlq += s.value;

    const sla = new Map<string, number>();
    for (const x of all.filter((x) => x.name === 'perpflow_feed_freshness_sla_seconds'))
      sla.set(x.labels.feed ?? '-', x.value);
    const alerts = await activeAlerts(process.env.ALERTMANAGER_URL);

    const lines: string[] = [];
    lines.push(`perpflow status  ${new Date(at).toISOString()}  (Ctrl-C stops the demo)`);
    lines.push(
      `services: ${scraped.map((s) => `${s.name} ${s.samples ? '\u001b[32mup\u001b[0m' : '\u001b[31mdown\u001b[0m'}`).join('  ')}`,
    );
    lines.push('');
    lines.push(
      `${'stage'.padEnd(11)}${'feed'.padEnd(15)}${'records'.padStart(10)}${'rec/s'.padStart(9)}${'fresh p50 s'.padStart(13)}${'fresh max s'.padStart(13)}${'SLA s'.padStart(7)}${'streams'.padStart(9)}${'stale'.padStart(7)}${'dead letters'.padStart(14)}`,
    );
    const next = new Map<string, { total: number; at: number }>();
    for (const r of [...rows.values()].sort((a, b) => (a.stage + a.feed).localeCompare(b.stage + b.feed))) {
      const key = `${r.stage}|${r.feed}`;
      const prev = previous.get(key);
      const rate = prev && at > prev.at ? ((r.total - prev.total) * 1000) / (at - prev.at) : null;
      next.set(key, { total: r.total, at });
      // Liquidations have no freshness SLA (bursts; their alert is the stream being disconnected).
      const limit = sla.get(r.feed) ?? null;
      const stale = limit === null ? null : r.freshness.filter((f) => f > limit).length;
      const staleCell = stale ? `\u001b[31m${String(stale).padStart(7)}\u001b[0m` : fmt(stale).padStart(7);
      lines.push(
        `${r.stage.padEnd(11)}${r.feed.padEnd(15)}${fmt(r.total).padStart(10)}${fmt(rate, 1).padStart(9)}${fmt(quantile(r.freshness, 0.5), 1).padStart(13)}${fmt(quantile(r.freshness, 1), 1).padStart(13)}${fmt(limit).padStart(7)}${String(r.freshness.length).padStart(9)}${staleCell}${fmt(r.dlq).padStart(14)}`,
      );
    }
    previous = next;
    ingestByFeed = new Map(
      [...rows.values()].filter((r) => r.stage === 'ingest').map((r) => [r.feed, r.total]),
    );
    const byRule = new Map<string, number>();
    for (const x of all.filter((x) => x.name === 'perpflow_dlq_records_total' && x.value > 0)) {
      const k = `${x.labels.stage ?? '?'}/${x.labels.rule ?? '?'}`;
      byRule.set(k, (byRule.get(k) ?? 0) + x.value);
    }
    const drift = all.filter((x) => x.name === 'perpflow_drift_breach');
    const breaching = drift.filter((x) => x.value === 1);
    const files = sum(all, (s) => s.name === 'perpflow_windower_files_written_total');
    const bytes = sum(all, (s) => s.name === 'perpflow_windower_bytes_written_total');
    const backfills = all.filter((s) => s.name === 'perpflow_backfill_progress_ratio');
    lines.push('');
    lines.push(`S3: ${fmt(files)} files, ${fmt(bytes / 1_048_576, 2)} MiB written`);
    if (backfills.length)
      lines.push(
        `backfills: ${backfills.map((b) => `${b.labels.backfill} ${(b.value * 100).toFixed(0)}%`).join(', ')}`,
      );
    lines.push(
      `dead letters by rule: ${byRule.size ? [...byRule].map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : 'none'}`,
    );
    lines.push(
      drift.length === 0
        ? 'drift: no window compared yet (the monitor needs enough bars)'
        : `drift: ${drift.length} series × features compared, ${breaching.length} breaching${breaching.length ? `: ${breaching.map((b) => `${b.labels.symbol} ${b.labels.feature}`).join(', ')}` : ''}`,
    );
    lines.push('');
    // One line per alert name: how many fire and where, cut to the screen's width.
    const width = process.stdout.columns ?? 160;
    const cut = (l: string) => (l.length > width ? `${l.slice(0, width - 1)}…` : l);
    const byName = new Map<string, string[]>();
    for (const a of alerts ?? []) {
      const name = a.labels.alertname ?? '?';
      byName.set(name, [...(byName.get(name) ?? []), describeAlert(a.labels).slice(name.length + 1)]);
    }
    lines.push(
      `alerts in Alertmanager: ${alerts === null ? 'not answering' : alerts.length === 0 ? 'none firing' : ''}`,
    );
    for (const [name, where] of byName)
      lines.push(
        `\u001b[31m${cut(`  ${name.padEnd(20)}${String(where.length).padStart(3)} firing: ${where.join('; ')}`)}\u001b[0m`,
      );
    lines.push(`alert notifications (${receiver}):`);
    for (const n of notes.slice(-5))
      lines.push(
        `  ${new Date(n.atMs).toISOString().slice(11, 19)} ${n.status.padEnd(9)}${describeAlert(n.labels)}`,
      );
    const events = process.env.PERPFLOW_STATUS_EVENTS;
    if (events && existsSync(events))
      for (const e of readFileSync(events, 'utf8').trim().split('\n').filter(Boolean).slice(-3))
        lines.push(e);
    const down = scraped.filter((s) => !s.samples).map((s) => s.name);
    if (down.length) lines.push(`not answering: ${down.join(', ')} — see .data/logs/<service>.log`);
    if (process.stdout.isTTY && !once) process.stdout.write('\u001b[2J\u001b[H');
    console.log(lines.map((l) => (l.includes('\u001b') ? l : cut(l))).join('\n'));
    const now = Date.now();
    if (once || now >= hardUntilMs || (now >= untilMs && settled(notes, settleAlert))) {
      // One line to grep: records per feed at ingest and every alert notification received.
      const feeds = ['ohlcv', 'open_interest', 'funding', 'liquidation'].map(
        (f) => `${f}=${fmt(ingestByFeed.get(f) ?? 0)}`,
      );
      const seen = (st: string) => [
        ...new Set(notes.filter((n) => n.status === st).map((n) => describeAlert(n.labels))),
      ];
      console.log(`summary: ingest ${feeds.join(' ')}`);
      console.log(`summary: alerts fired: ${seen('firing').join('; ') || 'none'}`);
      console.log(`summary: alerts resolved: ${seen('resolved').join('; ') || 'none'}`);
      return;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
