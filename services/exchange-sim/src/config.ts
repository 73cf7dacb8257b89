import { env, parseConfig } from '@perpflow/runtime';
import { z } from 'zod';
import { FaultSpecSchema } from './faults/faults.js';
import type { SimServerOptions } from './server.js';

const nonNegative = (def: number) => env.number(def, { min: 0 });

/** exchange-sim configuration: environment variables, one schema, parsed at start-up. */
export const SimConfigSchema = z.object({
  HOST: z
    .string()
    .default('127.0.0.1')
    .describe('bind address (keep loopback: the simulator is for tests and demos)'),
  PORT: env.port(39200).describe('HTTP + WebSocket port for both venues, the control API and /metrics'),
  SEED: env.int(42).describe('seed of the deterministic market'),
  SYMBOLS: env
    .int(500, { min: 1, max: 5000 })
    .describe('listed perpetuals: BTCUSDT, ETHUSDT, … then S001USDT, …'),
  SPEED: env
    .number(1, { gt: 0 })
    .describe('simulated ms per wall ms (>1: event time runs faster than the wall clock)'),
  START_MS: env.int(0, { min: 0 }).describe('simulated time at start (0 = the wall clock)'),
  CLOCK_OFFSET_MS: env.int(0).describe('added to simulated time'),
  PUSH_INTERVAL_MS: env
    .int(1000, { min: 50 })
    .describe('wall ms between websocket pushes (open-candle updates, liquidations)'),
  MISSING_CANDLE_RATE: env
    .number(0, { min: 0, max: 0.5 })
    .describe('share of 1m candles never published (deterministic by seed)'),
  LIQUIDATION_BURSTS_PER_HOUR: nonNegative(1).describe(
    "mean liquidation bursts per symbol per hour, scaled by the hour's volatility regime (e^(0.45·N(0,1)): mostly 0.4–2.5×); at most 700 a symbol-hour",
  ),
  OI_RETENTION_DAYS: env.number(30, { gt: 0 }).describe('open-interest history kept, like the venue'),
  BINANCE_WEIGHT_PER_MINUTE: env
    .int(2400, { min: 1 })
    .describe('request weight per minute per IP before 429'),
  BINANCE_FUNDING_RATE_PER_5M: env
    .int(500, { min: 1 })
    .describe('/fapi/v1/fundingRate requests per 5 min per IP'),
  BINANCE_OI_HIST_PER_5M: env
    .int(1000, { min: 1 })
    .describe('/futures/data/openInterestHist requests per 5 min per IP'),
  BINANCE_BAN_AFTER_REJECTED: env.int(5, { min: 0 }).describe('429s in a row before the IP is banned (418)'),
  BINANCE_BAN_BASE_MS: env
    .int(120_000, { min: 1 })
    .describe('first ban length; doubles with each ban, up to 3 days'),
  BYBIT_REQUESTS_PER_SECOND: env
    .int(120, { min: 1 })
    .describe('Bybit IP limit as a rate: this × 5 requests in any 5 s window, past it HTTP 403 and a ban'),
  BYBIT_BAN_MS: env
    .int(600_000, { min: 1 })
    .describe('how long a Bybit IP over its limit is answered 403 "access too frequent"'),
  FAULTS: z
    .string()
    .default('')
    .transform((s, ctx) => {
      if (s.trim() === '') return undefined;
      try {
        const r = FaultSpecSchema.safeParse(JSON.parse(s));
        if (r.success) return r.data;
        ctx.addIssue({ code: 'custom', message: `invalid fault spec: ${r.error.issues[0]?.message}` });
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not JSON' });
      }
      return z.NEVER;
    })
    .describe('faults active from the start, as the JSON body of POST /__sim/faults'),
});
export type SimConfig = z.infer<typeof SimConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): SimConfig {
  return parseConfig(SimConfigSchema, environment, { prefixes: ['BINANCE_', 'BYBIT_'] });
}

export function serverOptions(c: SimConfig): SimServerOptions {
  return {
    host: c.HOST,
    port: c.PORT,
    market: {
      seed: c.SEED,
      symbolCount: c.SYMBOLS,
      missingCandleRate: c.MISSING_CANDLE_RATE,
      liquidationBurstsPerHour: c.LIQUIDATION_BURSTS_PER_HOUR,
    },
    clock: {
      speed: c.SPEED,
      offsetMs: c.CLOCK_OFFSET_MS,
      ...(c.START_MS > 0 ? { startMs: c.START_MS } : {}),
    },
    limits: {
      binanceusdm: {
        weightPerMinute: c.BINANCE_WEIGHT_PER_MINUTE,
        fundingRatePer5m: c.BINANCE_FUNDING_RATE_PER_5M,
        openInterestHistPer5m: c.BINANCE_OI_HIST_PER_5M,
        banAfterRejected: c.BINANCE_BAN_AFTER_REJECTED,
        banBaseMs: c.BINANCE_BAN_BASE_MS,
      },
      bybit: { requestsPerSecond: c.BYBIT_REQUESTS_PER_SECOND, banMs: c.BYBIT_BAN_MS },
    },
    openInterestRetentionMs: c.OI_RETENTION_DAYS * 86_400_000,
    pushIntervalMs: c.PUSH_INTERVAL_MS,
    ...(c.FAULTS ? { faults: c.FAULTS } : {}),
  };
}
