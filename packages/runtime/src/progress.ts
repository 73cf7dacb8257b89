/**
 * Progress of long work, for people: a bar with rate and ETA redrawn in place on a
 * terminal, plain lines at a slower pace otherwise (logs, CI, pipes). The rate is taken
 * over the last `windowMs` of samples, so a stall shows as a falling rate and a growing
 * ETA rather than the average since the start.
 */
export interface ProgressOptions {
  /** What is counted, e.g. "jobs", "objects", "records". */
  unit: string;
  /** Shown first on every line, e.g. a backfill id. */
  label?: string;
  /** Redraw in place (`\r`) when true; plain lines otherwise. */
  tty: boolean;
  now?: () => number;
  /** The span the rate is measured over. Default 30 s. */
  windowMs?: number;
  /** Plain lines at most this often (the last one always). Default 5 s. */
  plainEveryMs?: number;
  /** Redraws on a terminal at most this often. Default 200 ms. */
  ttyEveryMs?: number;
  write: (text: string) => void;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 100) return perSecond.toFixed(0);
  if (perSecond >= 1) return perSecond.toFixed(1);
  return perSecond.toFixed(2);
}

export class Progress {
  private readonly samples: { atMs: number; done: number }[] = [];
  private lastWriteMs = Number.NEGATIVE_INFINITY;
  private lastLine = '';
  private readonly now: () => number;

  constructor(private readonly o: ProgressOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Units per second over the window, or null before two samples apart in time. */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.atMs <= first.atMs) return null;
    return (last.done - first.done) / ((last.atMs - first.atMs) / 1000);
  }

  /** The line for `done` of `total` (no write). */
  line(done: number, total: number, note = ''): string {
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const width = 24;
    const full = Math.round(frac * width);
    const rate = this.rate();
    const left = total - done;
    const eta =
      left <= 0
        ? 'done'
        : rate !== null && rate > 0
          ? `ETA ${formatDuration((left / rate) * 1000)}`
          : 'ETA ?';
    const parts = [
      this.o.label ? `${this.o.label} ` : '',
      `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(frac * 100).toFixed(1).padStart(5)}%`,
      `  ${done}/${total} ${this.o.unit}`,
      rate !== null ? `  ${formatRate(rate)} ${this.o.unit}/s` : '',
      `  ${eta}`,
      note ? `  ${note}` : '',
    ];
    return parts.join('');
  }

  /** Records a sample and writes a line when it is time to (always when `final`). */
  update(done: number, total: number, note = '', final = false): void {
    const t = this.now();
    this.samples.push({ atMs: t, done });
    const windowMs = this.o.windowMs ?? 30_000;
    while (this.samples.length > 2 && this.samples[0]!.atMs < t - windowMs) this.samples.shift();
    const every = this.o.tty ? (this.o.ttyEveryMs ?? 200) : (this.o.plainEveryMs ?? 5_000);
    if (!final && t - this.lastWriteMs < every) return;
    this.lastWriteMs = t;
    const line = this.line(done, total, note);
    if (this.o.tty) {
      // Pad over a longer previous line, so no tail of it stays on screen.
      const pad = Math.max(0, this.lastLine.length - line.length);
      this.o.write(`\r${line}${' '.repeat(pad)}${final ? '\n' : ''}`);
    } else this.o.write(`${line}\n`);
    this.lastLine = line;
  }
}
