import type { AlignedBar } from '@perpflow/contracts';

/**
 * How each field of an aligned bar is packed into a row of doubles: a number as itself,
 * a boolean as 0 or 1, a text as its code in the book's `TextCodes`; null (and an absent
 * field, as a stored object older than a column gives it) as NaN, which no bar holds (the
 * contract refuses NaN and infinities). Every field of the contract, checked by the type.
 */
const FIELD_KINDS = {
  schemaVersion: 'number',
  exchange: 'text',
  symbol: 'text',
  timeframe: 'text',
  eventTimeMs: 'number',
  open: 'number',
  high: 'number',
  low: 'number',
  close: 'number',
  volume: 'number',
  openInterest: 'number',
  openInterestTimeMs: 'number',
  openInterestMissing: 'text',
  fundingRate: 'number',
  fundingTimeMs: 'number',
  predictedFundingRate: 'number',
  predictedFundingTimeMs: 'number',
  fundingIntervalMs: 'number',
  fundingRate8h: 'number',
  markPrice: 'number',
  markPriceTimeMs: 'number',
  indexPrice: 'number',
  indexPriceTimeMs: 'number',
  basis: 'number',
  liqLongNotional: 'number',
  liqShortNotional: 'number',
  liqCount: 'number',
  liqPriceKind: 'text',
  liqCompleteness: 'text',
  knownAtMs: 'number',
  revision: 'number',
  candleFilled: 'boolean',
  openInterestStale: 'boolean',
  fundingStale: 'boolean',
} as const satisfies Record<keyof AlignedBar, 'number' | 'text' | 'boolean'>;

const FIELDS = Object.keys(FIELD_KINDS) as (keyof AlignedBar)[];
const KINDS = FIELDS.map((f) => FIELD_KINDS[f]);
/** Doubles per row. */
export const BAR_ROW_WIDTH = FIELDS.length;
const REVISION = FIELDS.indexOf('revision');
/** Rows per chunk: a window allocates in chunks, so a full one wastes at most one chunk's tail. */
const CHUNK_ROWS = 64;

const num = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : x);

/** Texts by code, shared by the windows of one book (exchange ids, symbols, timeframes, enum values). */
export class TextCodes {
  private readonly codes = new Map<string, number>();
  private readonly texts: string[] = [];

  code(text: string): number {
    let c = this.codes.get(text);
    if (c === undefined) {
      c = this.texts.length;
      this.texts.push(text);
      this.codes.set(text, c);
    }
    return c;
  }

  text(code: number): string {
    const t = this.texts[code];
    if (t === undefined) throw new Error(`no text with code ${code}`);
    return t;
  }

  /** The text of `code`, null for NaN (a null text). */
  textOrNull(code: number | undefined): string | null {
    return code === undefined || Number.isNaN(code) ? null : this.text(code);
  }
}

/**
 * The rows of one window, each an aligned bar packed into BAR_ROW_WIDTH doubles (288
 * bytes) instead of a parsed object of 34 properties (about 700 bytes with its boxed
 * numbers): a windower holds a day of open 1m windows for every followed symbol, 720,000
 * rows at the end of a UTC day with 500 symbols. A row is addressed by its slot; a
 * released slot is reused.
 */
export class BarRows {
  private readonly chunks: Float64Array[] = [];
  private readonly free: number[] = [];
  private used = 0;

  constructor(private readonly texts: TextCodes) {}

  /** Packs `bar` into a slot and returns the slot. */
  put(bar: AlignedBar): number {
    const slot = this.free.pop() ?? this.used++;
    const chunk = slot >>> 6;
    if (chunk === this.chunks.length) this.chunks.push(new Float64Array(CHUNK_ROWS * BAR_ROW_WIDTH));
    const data = this.chunks[chunk] as Float64Array;
    const base = (slot & (CHUNK_ROWS - 1)) * BAR_ROW_WIDTH;
    const row = bar as unknown as Record<string, unknown>;
    for (let i = 0; i < BAR_ROW_WIDTH; i++) {
      const v = row[FIELDS[i] as string];
      let x = Number.NaN;
      if (v !== null && v !== undefined)
        switch (KINDS[i]) {
          case 'number':
            x = v as number;
            break;
          case 'boolean':
            x = v ? 1 : 0;
            break;
          default:
            x = this.texts.code(v as string);
        }
      data[base + i] = x;
    }
    return slot;
  }

  /**
   * A new bar object of the row in `slot`, its fields in the contract's order (written out:
   * a loop setting 34 properties by name made a window's rows 5 times slower to read).
   */
  get(slot: number): AlignedBar {
    const d = this.chunks[slot >>> 6] as Float64Array;
    const b = (slot & (CHUNK_ROWS - 1)) * BAR_ROW_WIDTH;
    const t = this.texts;
    return {
      schemaVersion: d[b] as AlignedBar['schemaVersion'],
      exchange: t.text(d[b + 1] as number) as AlignedBar['exchange'],
      symbol: t.text(d[b + 2] as number),
      timeframe: t.text(d[b + 3] as number) as AlignedBar['timeframe'],
      eventTimeMs: d[b + 4] as number,
      open: d[b + 5] as number,
      high: d[b + 6] as number,
      low: d[b + 7] as number,
      close: d[b + 8] as number,
      volume: d[b + 9] as number,
      openInterest: num(d[b + 10]),
      openInterestTimeMs: num(d[b + 11]),
      openInterestMissing: t.textOrNull(d[b + 12]) as AlignedBar['openInterestMissing'],
      fundingRate: num(d[b + 13]),
      fundingTimeMs: num(d[b + 14]),
      predictedFundingRate: num(d[b + 15]),
      predictedFundingTimeMs: num(d[b + 16]),
      fundingIntervalMs: num(d[b + 17]),
      fundingRate8h: num(d[b + 18]),
      markPrice: num(d[b + 19]),
      markPriceTimeMs: num(d[b + 20]),
      indexPrice: num(d[b + 21]),
      indexPriceTimeMs: num(d[b + 22]),
      basis: num(d[b + 23]),
      liqLongNotional: num(d[b + 24]),
      liqShortNotional: num(d[b + 25]),
      liqCount: num(d[b + 26]),
      liqPriceKind: t.textOrNull(d[b + 27]) as AlignedBar['liqPriceKind'],
      liqCompleteness: t.text(d[b + 28] as number) as AlignedBar['liqCompleteness'],
      knownAtMs: d[b + 29] as number,
      revision: d[b + 30] as number,
      candleFilled: d[b + 31] === 1,
      openInterestStale: d[b + 32] === 1,
      fundingStale: d[b + 33] === 1,
    };
  }

  /** The row's revision, without unpacking the row. */
  revision(slot: number): number {
    return (this.chunks[slot >>> 6] as Float64Array)[
      (slot & (CHUNK_ROWS - 1)) * BAR_ROW_WIDTH + REVISION
    ] as number;
  }

  /** The slot's row is no longer needed: a later put reuses it. */
  release(slot: number): void {
    this.free.push(slot);
  }

  /** Bytes allocated for rows (whole chunks). */
  get bytes(): number {
    return this.chunks.length * CHUNK_ROWS * BAR_ROW_WIDTH * 8;
  }
}

/** The longest grid a window keeps; times past it (a policy of long windows for short bars) are kept by time. */
const MAX_GRID = 4096;

/**
 * The slot of the last revision per bar time of one window: by position where the time
 * lies on the window's grid of bar opens (every bar the aligner makes: 4 bytes each), by
 * time otherwise (a Map entry with its boxed time: about 60 bytes).
 */
export class LatestSlots {
  /** slot + 1 per grid position; 0: none. */
  private readonly grid: Int32Array;
  private readonly other = new Map<number, number>();
  private count = 0;

  constructor(
    private readonly startMs: number,
    private readonly stepMs: number,
    positions: number,
  ) {
    this.grid = new Int32Array(Math.max(0, Math.min(MAX_GRID, Math.floor(positions))));
  }

  private position(timeMs: number): number {
    const i = (timeMs - this.startMs) / this.stepMs;
    return Number.isInteger(i) && i >= 0 && i < this.grid.length ? i : -1;
  }

  get(timeMs: number): number | undefined {
    const i = this.position(timeMs);
    if (i < 0) return this.other.get(timeMs);
    const s = this.grid[i] as number;
    return s === 0 ? undefined : s - 1;
  }

  set(timeMs: number, slot: number): void {
    const i = this.position(timeMs);
    if (i < 0) {
      if (!this.other.has(timeMs)) this.count++;
      this.other.set(timeMs, slot);
      return;
    }
    if (this.grid[i] === 0) this.count++;
    this.grid[i] = slot + 1;
  }

  get size(): number {
    return this.count;
  }

  /** Every slot: the grid's in time order, then the others. */
  slots(): number[] {
    const out: number[] = [];
    for (const s of this.grid) if (s !== 0) out.push(s - 1);
    for (const s of this.other.values()) out.push(s);
    return out;
  }
}
