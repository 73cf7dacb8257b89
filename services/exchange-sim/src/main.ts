/** exchange-sim: config → deterministic market → one HTTP/WS server for Binance USDⓈ-M and Bybit. */
import { loadConfig, serverOptions } from './config.js';
import { startSimServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const sim = await startSimServer(serverOptions(config));
  const log = (msg: string, extra: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ level: 'info', time: Date.now(), service: 'exchange-sim', ...extra, msg }));
  log('exchange-sim ready', {
    url: sim.url,
    binance: `${sim.url}/fapi.binance.com`,
    bybit: `${sim.url}/api.bybit.com`,
    symbols: sim.model.symbols.length,
    seed: config.SEED,
    speed: config.SPEED,
    simNowMs: sim.clock.now(),
  });
  const stop = () => {
    log('exchange-sim stopping');
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(
    JSON.stringify({
      level: 'fatal',
      service: 'exchange-sim',
      msg: 'start-up failed',
      err: String(err?.message ?? err),
    }),
  );
  process.exit(1);
});
