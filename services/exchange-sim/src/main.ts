/** exchange-sim: a deterministic local Binance USDⓈ-M for tests and the demo. */
import { loadConfig } from './config.js';
import { startSimulator } from './server.js';

async function main(): Promise<void> {
  const c = loadConfig();
  const sim = await startSimulator({
    host: c.SIM_HOST,
    port: c.SIM_PORT,
    seed: c.SIM_SEED,
    symbols: c.SIM_SYMBOLS,
    launchMs: c.SIM_LAUNCH_MS,
    weightLimit: c.SIM_WEIGHT_LIMIT,
    oiHistoryDays: c.SIM_OI_HISTORY_DAYS,
    missingCandleRate: c.SIM_MISSING_CANDLE_RATE,
    liquidationPushMs: c.SIM_LIQUIDATION_PUSH_MS,
  });
  console.log(
    JSON.stringify({
      level: 'info',
      service: 'exchange-sim',
      url: sim.url,
      symbols: sim.symbols.length,
      seed: c.SIM_SEED,
      msg: 'exchange-sim ready',
    }),
  );
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`exchange-sim failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
