import { env, parseConfig } from '@perpflow/runtime';
import { z } from 'zod';

/** exchange-sim configuration (environment variables). */
export const SimConfigSchema = z.object({
  SIM_HOST: z.string().default('127.0.0.1').describe('bind address (loopback only in tests and the demo)'),
  SIM_PORT: env.port(39200).describe('HTTP + WebSocket port; /metrics is served here too'),
  SIM_SEED: env.int(42).describe('seed of the deterministic market'),
  SIM_SYMBOLS: env
    .int(20, { min: 1, max: 5_000 })
    .describe('number of perpetuals listed (BTCUSDT, ETHUSDT, SOLUSDT, then S001USDT...)'),
  SIM_LAUNCH_MS: env.int(1_577_836_800_000).describe('first time with history (default 2020-01-01)'),
  SIM_WEIGHT_LIMIT: env.int(2_400, { min: 1 }).describe('request weight per minute per client before 429s'),
  SIM_OI_HISTORY_DAYS: env.int(30, { min: 1 }).describe('open-interest history retention, like the venue'),
  SIM_MISSING_CANDLE_RATE: z.coerce
    .number()
    .min(0)
    .max(0.5)
    .default(0)
    .describe('fraction of 1m candles missing at the venue (deterministic by seed)'),
  SIM_LIQUIDATION_PUSH_MS: env
    .int(1_000, { min: 100 })
    .describe('how often liquidation events are pushed on the websocket'),
});
export type SimConfig = z.infer<typeof SimConfigSchema>;

export function loadConfig(environment: Record<string, string | undefined> = process.env): SimConfig {
  return parseConfig(SimConfigSchema, environment);
}
