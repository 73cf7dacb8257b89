/**
 * exchange-sim: config → deterministic market → one HTTP/WS server for Binance USDⓈ-M and Bybit.
 * runProcess, not runService: the simulator serves its /metrics on that same server (PORT)
 * and has no METRICS_HOST, METRICS_PORT or LOG_LEVEL keys.
 */
import { runProcess } from '@perpflow/runtime';
import { loadConfig, serverOptions } from './config.js';
import { startSimServer } from './server.js';

const log = (msg: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level: 'info', time: Date.now(), service: 'exchange-sim', ...extra, msg }));

runProcess({
  name: 'exchange-sim',
  startHint: 'Is its PORT free? (npm run stack -- status lists what the stack holds)',
  start: async () => {
    const config = loadConfig();
    const sim = await startSimServer(serverOptions(config));
    log('exchange-sim ready', {
      url: sim.url,
      binance: `${sim.url}/fapi.binance.com`,
      bybit: `${sim.url}/api.bybit.com`,
      symbols: sim.model.symbols.length,
      seed: config.SEED,
      speed: config.SPEED,
      simNowMs: sim.clock.now(),
    });
    return {
      stop: async () => {
        log('exchange-sim stopping');
        await sim.close();
      },
    };
  },
});
