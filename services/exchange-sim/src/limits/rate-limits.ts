/**
 * Request limits as the real venues count them, per client IP, on the wall clock.
 * Pure state machines: the caller passes `nowMs` and the request's cost.
 */

export type LimitVerdict =
  | { ok: true; usedWeight: number }
  | {
      ok: false;
      status: 429 | 418;
      retryAfterS: number;
      usedWeight: number;
      bannedUntilMs?: number;
      reason: string;
    };

export interface BinanceLimitOptions {
  /** Request weight per minute per IP (REQUEST_WEIGHT, 1 MINUTE). Default 2400. */
  weightPerMinute?: number;
  /** /fapi/v1/fundingRate: requests per 5 minutes per IP (shared). Default 500. */
  fundingRatePer5m?: number;
  /** /futures/data/openInterestHist: requests per 5 minutes per IP. Default 1000. */
  openInterestHistPer5m?: number;
  /** Requests answered 429 in a row before the IP is banned (418). Default 5. */
  banAfterRejected?: number;
  /** First ban length; each further ban doubles it, up to 3 days. Default 120 000 (2 min). */
  banBaseMs?: number;
}

interface Window {
  startMs: number;
  used: number;
}

interface IpState {
  weight: Window;
  funding: Window;
  oiHist: Window;
  rejectedInRow: number;
  bannedUntilMs: number;
  bans: number;
}

const MAX_BAN_MS = 3 * 86_400_000;

/** Which separate limit an endpoint also counts against. */
export type BinanceBucket = 'fundingRate' | 'openInterestHist' | undefined;

export class BinanceLimiter {
  private readonly ips = new Map<string, IpState>();
  readonly options: Required<BinanceLimitOptions>;

  constructor(options: BinanceLimitOptions = {}) {
    this.options = {
      weightPerMinute: options.weightPerMinute ?? 2400,
      fundingRatePer5m: options.fundingRatePer5m ?? 500,
      openInterestHistPer5m: options.openInterestHistPer5m ?? 1000,
      banAfterRejected: options.banAfterRejected ?? 5,
      banBaseMs: options.banBaseMs ?? 120_000,
    };
  }

  reset(): void {
    this.ips.clear();
  }

  usedWeight(ip: string, nowMs: number): number {
    const s = this.ips.get(ip);
    return s ? this.roll(s.weight, nowMs, 60_000).used : 0;
  }

  private roll(w: Window, nowMs: number, lengthMs: number): Window {
    const start = Math.floor(nowMs / lengthMs) * lengthMs;
    if (w.startMs !== start) {
      w.startMs = start;
      w.used = 0;
    }
    return w;
  }

  check(ip: string, nowMs: number, weight: number, bucket: BinanceBucket): LimitVerdict {
    let s = this.ips.get(ip);
    if (!s) {
      s = {
        weight: { startMs: 0, used: 0 },
        funding: { startMs: 0, used: 0 },
        oiHist: { startMs: 0, used: 0 },
        rejectedInRow: 0,
        bannedUntilMs: 0,
        bans: 0,
      };
      this.ips.set(ip, s);
    }
    const w = this.roll(s.weight, nowMs, 60_000);
    if (nowMs < s.bannedUntilMs) {
      return {
        ok: false,
        status: 418,
        retryAfterS: Math.ceil((s.bannedUntilMs - nowMs) / 1000),
        usedWeight: w.used,
        bannedUntilMs: s.bannedUntilMs,
        reason: `Way too much request weight used; IP banned until ${s.bannedUntilMs}. Please use WebSocket Streams for live updates to avoid bans.`,
      };
    }
    // Requests refused with 429 still count (the real venue counts them too).
    w.used += weight;
    let over: { windowEndMs: number; reason: string } | undefined;
    if (w.used > this.options.weightPerMinute) {
      over = {
        windowEndMs: w.startMs + 60_000,
        reason: `Too many requests; current limit of IP(${ip}) request weight per minute is ${this.options.weightPerMinute}. Please use WebSocket Streams for live updates to avoid polling the API.`,
      };
    }
    if (!over && bucket) {
      const b = this.roll(bucket === 'fundingRate' ? s.funding : s.oiHist, nowMs, 300_000);
      const limit =
        bucket === 'fundingRate' ? this.options.fundingRatePer5m : this.options.openInterestHistPer5m;
      b.used += 1;
      if (b.used > limit)
        over = {
          windowEndMs: b.startMs + 300_000,
          reason: `Too many requests; current limit of IP(${ip}) for ${bucket} is ${limit} requests per 5 minutes.`,
        };
    }
    if (!over) {
      s.rejectedInRow = 0;
      return { ok: true, usedWeight: w.used };
    }
    s.rejectedInRow += 1;
    if (s.rejectedInRow > this.options.banAfterRejected) {
      const length = Math.min(MAX_BAN_MS, this.options.banBaseMs * 2 ** s.bans);
      s.bans += 1;
      s.rejectedInRow = 0;
      s.bannedUntilMs = nowMs + length;
      return {
        ok: false,
        status: 418,
        retryAfterS: Math.ceil(length / 1000),
        usedWeight: w.used,
        bannedUntilMs: s.bannedUntilMs,
        reason: `Way too much request weight used; IP banned until ${s.bannedUntilMs}. Please use WebSocket Streams for live updates to avoid bans.`,
      };
    }
    return {
      ok: false,
      status: 429,
      retryAfterS: Math.max(1, Math.ceil((over.windowEndMs - nowMs) / 1000)),
      usedWeight: w.used,
      reason: over.reason,
    };
  }

  snapshot(nowMs: number): Record<string, { usedWeight: number; bannedUntilMs: number; bans: number }> {
    const out: Record<string, { usedWeight: number; bannedUntilMs: number; bans: number }> = {};
    for (const [ip, s] of this.ips)
      out[ip] = {
        usedWeight: this.roll(s.weight, nowMs, 60_000).used,
        bannedUntilMs: s.bannedUntilMs,
        bans: s.bans,
      };
    return out;
  }
}

export interface BybitLimitOptions {
  /**
   * The IP limit as a per-second rate: requestsPerSecond × 5 requests in any 5-second
   * window. Default 120 (600 per 5 s, the documented IP limit of api.bybit.com).
   */
  requestsPerSecond?: number;
  /** How long an IP over the limit is answered 403. Default 10 min (the docs: "wait for at least 10 minutes"). */
  banMs?: number;
}

export type BybitVerdict = {
  ok: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  /** Set when the IP is banned: every request until then answers 403. */
  bannedUntilMs?: number;
};

/**
 * Bybit's public IP limit: at most 600 requests in any 5-second window per IP; past it
 * the venue answers HTTP 403 "access too frequent" and bans the IP for at least 10
 * minutes (bybit-exchange.github.io/docs, "Rate Limit": "If you encounter the error
 * '403, access too frequent' … wait for at least 10 minutes. The ban will be lifted
 * automatically"). retCode 10006 is the per-UID API limit of private endpoints, not this.
 * The window here is a sliding one over the last 5 s of request times.
 */
export class BybitLimiter {
  private readonly ips = new Map<string, { times: number[]; bannedUntilMs: number }>();
  readonly requestsPerSecond: number;
  readonly banMs: number;

  constructor(options: BybitLimitOptions = {}) {
    this.requestsPerSecond = options.requestsPerSecond ?? 120;
    this.banMs = options.banMs ?? 600_000;
  }

  reset(): void {
    this.ips.clear();
  }

  check(ip: string, nowMs: number): BybitVerdict {
    const limit = this.requestsPerSecond * 5;
    let st = this.ips.get(ip);
    if (!st) {
      st = { times: [], bannedUntilMs: 0 };
      this.ips.set(ip, st);
    }
    if (nowMs < st.bannedUntilMs)
      return { ok: false, limit, remaining: 0, resetMs: st.bannedUntilMs, bannedUntilMs: st.bannedUntilMs };
    let drop = 0;
    while (drop < st.times.length && st.times[drop]! <= nowMs - 5_000) drop++;
    if (drop > 0) st.times.splice(0, drop);
    if (st.times.length >= limit) {
      st.bannedUntilMs = nowMs + this.banMs;
      st.times.length = 0;
      return { ok: false, limit, remaining: 0, resetMs: st.bannedUntilMs, bannedUntilMs: st.bannedUntilMs };
    }
    st.times.push(nowMs);
    return { ok: true, limit, remaining: limit - st.times.length, resetMs: (st.times[0] ?? nowMs) + 5_000 };
  }
}
