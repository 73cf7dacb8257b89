import { z } from 'zod';
import { BlockRandom } from '../market/random.js';
import { VENUE_IDS, type VenueId } from '../venues/types.js';

/**
 * Faults on demand: the JSON body of POST /__sim/faults and the FAULTS config key.
 * Rates are probabilities per request (HTTP faults) or per candle (candle faults).
 * Faults that change what the market IS (missing candles, spikes, distribution
 * shifts) go into the model so ground truth can be computed; the others only
 * change what is served.
 */
export const FaultSpecSchema = z
  .object({
    /** Which venue the HTTP and candle faults apply to. Default: every venue. */
    venue: z.enum([...VENUE_IDS, 'all']).optional(),
    http5xxRate: z.number().min(0).max(1).optional(),
    /** The request is accepted and never answered (clients time out). */
    hangRate: z.number().min(0).max(1).optional(),
    /** HTTP 200 with a truncated JSON body. */
    malformedJsonRate: z.number().min(0).max(1).optional(),
    /** HTTP 200 with an HTML body (a proxy's error page). */
    htmlRate: z.number().min(0).max(1).optional(),
    /** A candle sent twice (REST page or WS push). */
    duplicateCandleRate: z.number().min(0).max(1).optional(),
    /** Two adjacent candles swapped (REST page) or a closed candle held back and sent after the next (WS). */
    outOfOrderCandleRate: z.number().min(0).max(1).optional(),
    /** Deterministic share of 1m candles never published (model: MarketModel.isMissingCandle). */
    missingCandleRate: z.number().min(0).max(0.5).optional(),
    /**
     * The next requests of the venue get these faults, one each, in order, before the
     * rates apply: a test that must see each kind gets it whatever the random draws.
     * `rate_limited` is the venue's rate-limit answer (Binance 429 + Retry-After).
     */
    httpFaultSequence: z
      .array(z.enum(['rate_limited', 'http_5xx', 'hang', 'malformed_json', 'html_body']))
      .max(100)
      .optional(),
    /** Every REST answer of the venue is delayed by a uniform 0…latencyMs (a slow exchange or network); 0 ends it. */
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    /** Share of requests answered as over the rate limit, each venue its own way (Binance 429 + Retry-After, Bybit retCode 10006): a 429 storm. */
    rateLimitedRate: z.number().min(0).max(1).optional(),
    /** Retry-After (seconds) of injected 429s. Default 2. */
    retryAfterS: z.number().int().min(1).max(3600).optional(),
    /**
     * Ban every client IP of `venue` now for this long, as the venue bans (Binance 418 +
     * Retry-After, Bybit a plain 403); 0 lifts a ban. Without `venue`: the venues whose
     * ban says how long it lasts (`Venue.banSaysHowLong`: Binance).
     */
    banMs: z
      .number()
      .int()
      .min(0)
      .max(3 * 86_400_000)
      .optional(),
    /** Close every open websocket now (one shot). */
    dropWebsockets: z.boolean().optional(),
    /** Prices of one symbol × factor for `minutes` from `fromMs` (default: now). */
    spike: z
      .object({
        symbol: z.string(),
        factor: z.number().positive(),
        minutes: z.number().int().min(1).default(1),
        fromMs: z.number().int().optional(),
      })
      .optional(),
    /** One symbol's feed goes silent from `fromMs` (default now): REST stops advancing, WS stops. */
    silence: z.object({ symbol: z.string(), fromMs: z.number().int().optional() }).optional(),
    /** Ends a silence. */
    unsilence: z.string().optional(),
    /** Volatility/volume regime change of one symbol from `fromMs` (default now). */
    shift: z
      .object({
        symbol: z.string(),
        fromMs: z.number().int().optional(),
        volatilityFactor: z.number().positive().default(3),
        volumeFactor: z.number().positive().default(3),
      })
      .optional(),
  })
  .strict();
export type FaultSpec = z.infer<typeof FaultSpecSchema>;

/**
 * Fault kinds the injector decides; a venue's gate adds its own refusal kinds
 * (rate_limited_429, banned_418, bybit_ip_ban_403, …), constants of its module.
 */
export type FaultKind =
  | 'http_5xx'
  | 'hang'
  | 'malformed_json'
  | 'html_body'
  | 'duplicate_candle'
  | 'out_of_order_candle'
  | 'missing_candle'
  | 'ws_drop'
  | 'price_spike'
  | 'silent_symbol'
  | 'distribution_shift';

export type HttpFault = 'http_5xx' | 'hang' | 'malformed_json' | 'html_body';
/** What `httpFaultSequence` may queue: an HTTP fault or a rate-limit answer. */
export type SequencedFault = HttpFault | 'rate_limited';

export interface FaultRates {
  venue: VenueId | 'all';
  rateLimitedRate: number;
  retryAfterS: number;
  http5xxRate: number;
  hangRate: number;
  malformedJsonRate: number;
  htmlRate: number;
  duplicateCandleRate: number;
  outOfOrderCandleRate: number;
  latencyMs: number;
}

const NO_FAULTS: FaultRates = {
  venue: 'all',
  rateLimitedRate: 0,
  retryAfterS: 2,
  http5xxRate: 0,
  hangRate: 0,
  malformedJsonRate: 0,
  htmlRate: 0,
  duplicateCandleRate: 0,
  outOfOrderCandleRate: 0,
  latencyMs: 0,
};

/** Decides faults with a seeded PRNG (same seed and request order → same faults) and counts them. */
export class FaultInjector {
  private rates: FaultRates = { ...NO_FAULTS };
  private rng: BlockRandom;
  readonly counts = new Map<string, number>();
  private readonly silent = new Map<string, number>();

  constructor(
    private readonly seed: number,
    private readonly onFault: (kind: string, venue: string, n: number) => void = () => {},
  ) {
    this.rng = new BlockRandom(seed ^ 0xfa17);
  }

  get active(): FaultRates & { silent: Record<string, number>; httpFaultSequence: SequencedFault[] } {
    return { ...this.rates, silent: Object.fromEntries(this.silent), httpFaultSequence: [...this.sequence] };
  }

  /** Applies the rate fields of a spec (the rest is handled by the server: model overlays, ws drops). */
  applyRates(spec: FaultSpec): void {
    if (spec.httpFaultSequence !== undefined) this.sequence = [...spec.httpFaultSequence];
    for (const k of Object.keys(NO_FAULTS) as (keyof FaultRates)[]) {
      const v = spec[k as keyof FaultSpec];
      if (v !== undefined) (this.rates as unknown as Record<string, unknown>)[k] = v;
    }
  }

  silence(symbol: string, fromMs: number): void {
    this.silent.set(symbol, fromMs);
  }

  unsilence(symbol: string): void {
    this.silent.delete(symbol);
  }

  /** Simulated time as the venue serves it for a symbol: frozen while the symbol is silent. */
  symbolNow(symbol: string, nowMs: number): number {
    const from = this.silent.get(symbol);
    return from !== undefined && from < nowMs ? from : nowMs;
  }

  isSilent(symbol: string, nowMs: number): boolean {
    const from = this.silent.get(symbol);
    return from !== undefined && from <= nowMs;
  }

  reset(): void {
    this.rates = { ...NO_FAULTS };
    this.bannedUntilWallMs = 0;
    this.bannedVenues = [];
    this.sequence = [];
    this.silent.clear();
    this.counts.clear();
    this.rng = new BlockRandom(this.seed ^ 0xfa17);
  }

  count(kind: FaultKind | (string & {}), venue: string, n = 1): void {
    if (n <= 0) return;
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + n);
    this.onFault(kind, venue, n);
  }

  private applies(venue: string): boolean {
    return this.rates.venue === 'all' || this.rates.venue === venue;
  }

  private bannedUntilWallMs = 0;
  private bannedVenues: readonly string[] = [];
  /** HTTP faults still queued by `httpFaultSequence`. */
  private sequence: SequencedFault[] = [];

  /** Bans every client of these venues until wall time `untilMs`; a past time lifts it. */
  ban(untilMs: number, venues: readonly VenueId[]): void {
    this.bannedUntilWallMs = untilMs;
    this.bannedVenues = venues;
  }

  /** An injected rate-limit answer for this request, if any: a ban first, then the 429 storm. */
  rateLimitFault(
    venue: string,
    wallMs: number,
  ): { kind: 'banned' | 'rate_limited'; retryAfterS: number } | undefined {
    if (this.bannedVenues.includes(venue) && wallMs < this.bannedUntilWallMs)
      return { kind: 'banned', retryAfterS: Math.ceil((this.bannedUntilWallMs - wallMs) / 1000) };
    if (!this.applies(venue)) return undefined;
    if (this.sequence[0] === 'rate_limited') {
      this.sequence.shift();
      return { kind: 'rate_limited', retryAfterS: this.rates.retryAfterS };
    }
    if (this.rates.rateLimitedRate === 0) return undefined;
    if (this.rng.next() >= this.rates.rateLimitedRate) return undefined;
    return { kind: 'rate_limited', retryAfterS: this.rates.retryAfterS };
  }

  /**
   * The delay of one REST answer (0 without a latency fault). Math.random, not the seeded
   * PRNG: a delay must not shift which requests the seeded faults hit.
   */
  latencyFor(venue: string): number {
    if (!this.applies(venue) || this.rates.latencyMs === 0) return 0;
    return Math.floor(Math.random() * (this.rates.latencyMs + 1));
  }

  /** At most one HTTP fault per request. */
  httpFault(venue: string): HttpFault | undefined {
    if (!this.applies(venue)) return undefined;
    const next = this.sequence[0];
    // A rate-limit answer at the head is rateLimitFault's, which every request asks first.
    if (next !== undefined && next !== 'rate_limited') {
      this.sequence.shift();
      this.count(next, venue);
      return next;
    }
    const r = this.rates;
    if (r.http5xxRate + r.hangRate + r.malformedJsonRate + r.htmlRate === 0) return undefined;
    const u = this.rng.next();
    const table: [HttpFault, number][] = [
      ['http_5xx', r.http5xxRate],
      ['hang', r.hangRate],
      ['malformed_json', r.malformedJsonRate],
      ['html_body', r.htmlRate],
    ];
    let acc = 0;
    let f: HttpFault | undefined;
    for (const [kind, rate] of table) {
      acc += rate;
      if (u < acc) {
        f = kind;
        break;
      }
    }
    if (f) this.count(f, venue);
    return f;
  }

  /** Duplicates and swaps rows of a candle page (oldest-first or newest-first alike). */
  candlePage<T>(venue: string, rows: T[]): T[] {
    if (!this.applies(venue)) return rows;
    const { duplicateCandleRate: dup, outOfOrderCandleRate: ooo } = this.rates;
    if (dup === 0 && ooo === 0) return rows;
    const out: T[] = [];
    for (const row of rows) {
      out.push(row);
      if (dup > 0 && this.rng.next() < dup) {
        out.push(row);
        this.count('duplicate_candle', venue);
      }
    }
    if (ooo > 0)
      for (let i = 0; i + 1 < out.length; i++) {
        if (this.rng.next() < ooo) {
          const a = out[i] as T;
          out[i] = out[i + 1] as T;
          out[i + 1] = a;
          this.count('out_of_order_candle', venue);
          i++;
        }
      }
    return out;
  }

  /** For a closed WS candle: send it twice? hold it back until after the next one? */
  wsCandleFault(venue: string): 'duplicate' | 'hold' | undefined {
    if (!this.applies(venue)) return undefined;
    const { duplicateCandleRate: dup, outOfOrderCandleRate: ooo } = this.rates;
    if (dup > 0 && this.rng.next() < dup) {
      this.count('duplicate_candle', venue);
      return 'duplicate';
    }
    if (ooo > 0 && this.rng.next() < ooo) {
      this.count('out_of_order_candle', venue);
      return 'hold';
    }
    return undefined;
  }
}
